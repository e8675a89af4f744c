//! The `loyal` command line.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::config::{CliOverrides, Settings};
use crate::store::Db;

#[derive(Parser)]
#[command(
    name = "loyal",
    version,
    about = "Loyal: loyalty, membership and customer data in one binary.",
    long_about = "Loyal: loyalty, membership and customer data in one binary.\n\n\
Settings come from built-in defaults, then the TOML file given by --config (or LOYAL_CONFIG), \
then LOYAL_* environment variables, then the flags below. `loyal config` lists every setting."
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
    #[command(flatten)]
    global: Global,
}

#[derive(Args)]
struct Global {
    /// TOML configuration file (also LOYAL_CONFIG).
    #[arg(long, global = true, env = "LOYAL_CONFIG")]
    config: Option<PathBuf>,
    /// Address to listen on, e.g. 127.0.0.1:8080 (also LOYAL_LISTEN).
    #[arg(long, global = true)]
    listen: Option<String>,
    /// Directory for Loyal's files, e.g. ./loyal-data (also LOYAL_DATA_DIR).
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    /// sqlite://FILE or postgres://USER@HOST/DB (also LOYAL_DATABASE_URL; default: SQLite in the data directory).
    #[arg(long, global = true)]
    database_url: Option<String>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server: applies pending migrations, then serves the API and the pages.
    Serve,
    /// Create a demo coffee chain (3 branches, a login per role) if absent, print the
    /// logins, and serve it.
    Demo,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Expire every lot past its expiry date (safe to re-run: nothing expires twice).
    Expire,
    /// Recompute every balance from the ledger entries and check the invariants; exits
    /// non-zero and lists the differences when anything drifted.
    Verify,
    /// List every setting with its environment variable, default and current value.
    Config,
    /// Print the OpenAPI document of the API.
    Openapi,
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let overrides = CliOverrides {
        listen: cli.global.listen,
        data_dir: cli.global.data_dir,
        database_url: cli.global.database_url,
    };
    let settings = Settings::load(cli.global.config.as_deref(), &overrides)?;
    match cli.command {
        Command::Config => {
            print_config(&settings);
            Ok(())
        }
        Command::Openapi => {
            println!("{}", serde_json::to_string_pretty(&crate::app::openapi())?);
            Ok(())
        }
        Command::Migrate => {
            crate::telemetry::init(&settings);
            let db =
                Db::connect(&settings.database_url(), settings.database_max_connections).await?;
            db.migrate().await?;
            println!("migrations applied ({:?})", db.backend());
            Ok(())
        }
        Command::Expire => {
            let db = open(&settings).await?;
            let (lots, points) = crate::ledger::run_expiry(&db, crate::store::now_micros())
                .await
                .map_err(|e| anyhow::anyhow!(e.message))?;
            println!("expired {points} points in {lots} lots");
            Ok(())
        }
        Command::Verify => {
            let db = open(&settings).await?;
            let drift = crate::ledger::store::verify(&db).await?;
            if drift.is_empty() {
                println!("ledger verified: every balance matches its entries and lots");
                return Ok(());
            }
            for d in &drift {
                println!(
                    "DRIFT tenant {} member {:?}: {}",
                    d.tenant_id, d.member_id, d.what
                );
            }
            anyhow::bail!("{} difference(s) found", drift.len())
        }
        Command::Serve => {
            crate::telemetry::init(&settings);
            let db = open(&settings).await?;
            let listener = bind(&settings).await?;
            tracing::info!(listen = %settings.listen, backend = ?db.backend(), "Loyal is serving");
            crate::app::serve(listener, db, settings, crate::app::shutdown_signal()).await
        }
        Command::Demo => {
            crate::telemetry::init(&settings);
            let db = open(&settings).await?;
            let listener = bind(&settings).await?;
            let logins = crate::demo::seed(&db, &settings).await?;
            print_demo(&settings, &logins);
            crate::app::serve(listener, db, settings, crate::app::shutdown_signal()).await
        }
    }
}

async fn open(settings: &Settings) -> anyhow::Result<Db> {
    let db = Db::connect(&settings.database_url(), settings.database_max_connections).await?;
    db.migrate().await?;
    Ok(db)
}

async fn bind(settings: &Settings) -> anyhow::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(&settings.listen)
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "cannot listen on {}: {e} (choose another with --listen)",
                settings.listen
            )
        })
}

fn print_config(settings: &Settings) {
    let current = settings.describe();
    for doc in Settings::documentation() {
        let value = current
            .iter()
            .find(|(k, _)| k == doc.name)
            .map(|(_, v)| v.as_str())
            .unwrap_or("");
        let default = if doc.secret {
            "(secret)".to_string()
        } else {
            doc.default.clone()
        };
        println!(
            "{}\n    env {}  default {}  current {}\n    {}\n",
            doc.name,
            doc.env,
            default,
            value,
            doc.doc.replace('\n', "\n    ")
        );
    }
}

fn print_demo(settings: &Settings, logins: &crate::demo::DemoLogins) {
    let base = format!("http://{}", settings.listen);
    println!();
    println!("  Loyal demo: {} ({})", logins.shop_name, logins.slug);
    println!("  Sign in:     {base}/login   (shop: {})", logins.slug);
    println!("  API docs:    {base}/api/docs");
    println!("  OpenAPI:     {base}/api/openapi.json");
    println!("  Metrics:     {base}/metrics");
    println!(
        "  Database:    {}",
        if settings.database_url.is_empty() {
            settings.database_url()
        } else {
            "(from LOYAL_DATABASE_URL)".into()
        }
    );
    println!();
    println!("  Logins (password for all: {}):", logins.password);
    for (role, email) in &logins.staff {
        println!("    {role:<11} {email}");
    }
    println!();
}
