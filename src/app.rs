//! Application state, the router, and the server's life cycle.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::extract::{Request, State};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use tower_http::catch_panic::CatchPanicLayer;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use crate::auth::rate_limit::{LoginLimiter, SignupLimiter};
use crate::config::Settings;
use crate::error::{ApiError, Code};
use crate::http::openapi::{ApiDoc, Policies};
use crate::http::{authorize, context, idempotency, ops};
use crate::state::{AppState, Inner};
use crate::store::Db;

/// Every API route of every capability, with its OpenAPI entry.
fn api_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(crate::tenants::api::routes())
        .merge(crate::auth::api::routes())
        .merge(crate::staff::api::routes())
        .merge(crate::audit::api::routes())
        .merge(crate::members::api::routes())
        .merge(crate::members::import_jobs::routes())
        .merge(crate::members::privacy::routes())
        .merge(crate::members::signup::routes())
        .merge(crate::ledger::api::routes())
        .merge(crate::earning::api::routes())
        .merge(crate::rules::api::routes())
        .merge(crate::tiers::api::routes())
        .merge(crate::otp::api::routes())
        .merge(crate::rewards::api::routes())
        .merge(crate::draws::api::routes())
        .merge(crate::overview::api::routes())
}

/// The API router, its OpenAPI document and the access rules read from it.
fn api_parts() -> (Router<AppState>, utoipa::openapi::OpenApi, Policies) {
    let (router, mut doc) = OpenApiRouter::<AppState>::with_openapi(ApiDoc::openapi())
        .nest("/api/v1", api_routes())
        .split_for_parts();
    // A route without a declared access rule is a programming error: refuse to start.
    let policies =
        crate::http::openapi::finish(&mut doc).unwrap_or_else(|e| panic!("API access rules: {e}"));
    (router, doc, policies)
}

/// The OpenAPI document (also printed by `loyal openapi`).
pub fn openapi() -> utoipa::openapi::OpenApi {
    api_parts().1
}

async fn api_not_found() -> ApiError {
    ApiError::new(Code::NotFound, "no such API endpoint")
}

async fn api_method_not_allowed() -> ApiError {
    ApiError::new(Code::MethodNotAllowed, "this method is not allowed here")
}

/// Cancel a request that runs longer than the configured limit, with a problem+json 503.
async fn request_timeout(State(app): State<AppState>, req: Request, next: Next) -> Response {
    let limit = Duration::from_secs(app.settings.request_timeout_secs);
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(res) => res,
        Err(_) => ApiError::new(Code::Timeout, "the request took too long").into_response(),
    }
}

/// Build the state and the full router.
pub fn build(db: Db, settings: Settings, clock: crate::clock::Clock) -> (AppState, Router) {
    let (api_router, doc, policies) = api_parts();
    let state = AppState::new(Inner {
        login_limiter: LoginLimiter::new(
            settings.login_attempts_per_account_per_minute,
            settings.login_attempts_per_ip_per_minute,
            settings.login_failures_per_account_per_hour,
        ),
        password_checks: tokio::sync::Semaphore::new(
            std::thread::available_parallelism().map_or(2, |n| n.get()),
        ),
        signup_limiter: SignupLimiter::new(
            settings.member_signups_per_address_per_hour,
            settings.shop_signups_per_address_per_hour,
        ),
        otp_limiter: crate::otp::OtpLimiter::new(
            settings.otp_sends_per_phone_per_hour,
            settings.otp_sends_per_ip_per_hour,
        ),
        sms: crate::otp::sms::SmsSender::from_settings(&settings),
        ledger_writer: settings.ledger_group_commit.then(|| {
            crate::earning::writer::LedgerWriter::start(
                &db,
                crate::earning::writer::WriterConfig {
                    // Half the pool at most: requests still need connections to read.
                    writers: settings
                        .ledger_writers
                        .min(settings.database_max_connections as usize / 2)
                        .max(1),
                    group_max: settings.ledger_group_max,
                    queue: settings.ledger_queue,
                },
            )
        }),
        api_keys: crate::auth::api_keys::KeyCache::new(
            std::time::Duration::from_secs(settings.api_key_trust_secs),
            clock.clone(),
        ),
        clock,
        db,
        policies,
        openapi: Arc::new(doc),
        metrics: ops::metrics_handle(),
        cipher: crate::crypto::Cipher::load(&settings.encryption_key, &settings.data_dir)
            .unwrap_or_else(|e| panic!("encryption key: {e}")),
        settings,
    });

    let api = api_router
        .route_layer(from_fn_with_state(state.clone(), idempotency::idempotency))
        .route_layer(from_fn_with_state(state.clone(), authorize::authorize))
        .method_not_allowed_fallback(api_method_not_allowed);

    let pages = Router::new()
        .route("/", get(|| async { Redirect::to("/admin") }))
        .route(
            "/login",
            get(crate::auth::pages::show_login).post(crate::auth::pages::submit_login),
        )
        .route("/logout", post(crate::auth::pages::submit_logout))
        .route("/admin", get(crate::overview::pages::admin_home))
        .route("/admin/points", get(crate::overview::pages::points_page))
        .route(
            "/admin/points/adjust",
            get(crate::console::points_adjust::show).post(crate::console::points_adjust::check),
        )
        .route(
            "/admin/points/adjust/confirm",
            post(crate::console::points_adjust::confirm).get(crate::console::back_to_page),
        )
        .route("/admin/staff", get(crate::console::team::staff))
        .route(
            "/admin/staff/invite",
            post(crate::console::team::invite).get(crate::console::back_to_page),
        )
        .route(
            "/admin/staff/invitations/{id}/{action}",
            post(crate::console::team::invitation_action).get(crate::console::back_to_page),
        )
        .route(
            "/admin/staff/{id}",
            get(crate::console::team::person).post(crate::console::team::save_person),
        )
        .route(
            "/admin/branches",
            get(crate::console::team::branches_page).post(crate::console::team::add_branch),
        )
        .route(
            "/admin/branches/{id}",
            post(crate::console::team::change_branch).get(crate::console::back_to_page),
        )
        .route(
            "/admin/staff/{id}/password-reset",
            post(crate::console::team::password_reset).get(crate::console::back_to_page),
        )
        .route(
            "/admin/account",
            get(crate::console::account::show).post(crate::console::account::save),
        )
        .route("/admin/mailbox", get(crate::otp::api::mailbox_page))
        .route("/admin/members", get(crate::console::members::members))
        .route("/admin/members/{id}", get(crate::console::members::member))
        .route(
            "/admin/members/{id}/actions",
            post(crate::console::members::member_action).get(crate::console::back_to_page),
        )
        .route(
            "/admin/members/{id}/edit",
            get(crate::console::member_profile::edit).post(crate::console::member_profile::save),
        )
        .route(
            "/admin/members/{id}/export",
            get(crate::console::members::export),
        )
        .route("/admin/import", get(crate::console::admin::import))
        .route(
            "/admin/rewards",
            get(crate::console::rewards::rewards).post(crate::console::rewards::create),
        )
        .route(
            "/admin/rewards/{id}/archive",
            post(crate::console::rewards::archive).get(crate::console::back_to_page),
        )
        .route(
            "/admin/rewards/{id}",
            get(crate::console::rewards::reward).post(crate::console::rewards::save),
        )
        .route(
            "/admin/tiers",
            get(crate::console::tiers::tiers).post(crate::console::tiers::save),
        )
        .route(
            "/admin/signup-form",
            get(crate::console::admin::signup_form).post(crate::console::admin::save_signup_form),
        )
        .route(
            "/admin/draws",
            get(crate::console::draws::draws).post(crate::console::draws::create),
        )
        .route(
            "/admin/draws/{id}",
            post(crate::console::draws::make).get(crate::console::back_to_page),
        )
        .route("/admin/audit", get(crate::console::audit::audit))
        .route(
            "/admin/api-keys",
            get(crate::console::audit::api_keys).post(crate::console::audit::create_api_key),
        )
        .route(
            "/admin/api-keys/{id}/revoke",
            post(crate::console::audit::revoke_api_key).get(crate::console::back_to_page),
        )
        .route(
            "/admin/settings/{which}",
            get(crate::console::admin::settings).post(crate::console::admin::save_settings),
        )
        .route(
            "/admin/setup",
            get(crate::console::setup::show).post(crate::console::setup::submit),
        )
        .route("/staff", get(|| async { Redirect::to("/staff/earn") }))
        .route("/m/{slug}", get(crate::members::portal::home))
        .route(
            "/m/{slug}/login",
            get(crate::members::portal::show_login).post(crate::members::portal::send_login_code),
        )
        .route(
            "/m/{slug}/login/verify",
            post(crate::members::portal::verify_login),
        )
        .route("/m/{slug}/logout", post(crate::members::portal::logout))
        .route(
            "/m/{slug}/signup",
            get(crate::members::portal::show_signup).post(crate::members::portal::submit_signup),
        )
        .route("/m/{slug}/rewards", get(crate::members::portal::rewards))
        .route(
            "/m/{slug}/rewards/{id}",
            post(crate::members::portal::redeem),
        )
        .route("/m/{slug}/coupons", get(crate::members::portal::coupons))
        .route(
            "/m/{slug}/me",
            get(crate::members::portal::account).post(crate::members::portal::save_account),
        )
        .route(
            "/m/{slug}/me/data",
            get(crate::members::portal::download_data),
        )
        .route(
            "/m/{slug}/me/erase",
            post(crate::members::portal::ask_erasure),
        )
        .route("/m/{slug}/draws", get(crate::members::portal::draws))
        .route(
            "/m/{slug}/draws/{id}",
            post(crate::members::portal::enter_draw),
        )
        .route(
            "/m/{slug}/claim/{token}",
            get(crate::members::portal::show_claim).post(crate::members::portal::collect_claim),
        )
        .route(
            "/staff/claims",
            post(crate::earning::pages::submit_claim).get(crate::console::back_to_page),
        )
        .route(
            "/m/{slug}/coupons/{id}",
            get(crate::members::portal::coupon),
        )
        .route(
            "/staff/earn",
            get(crate::earning::pages::show_earn).post(crate::earning::pages::submit_earn),
        )
        .route(
            "/staff/earn/join",
            post(crate::earning::pages::join).get(crate::console::back_to_page),
        )
        .route(
            "/staff/coupons",
            get(crate::rewards::pages::show_coupons).post(crate::rewards::pages::submit_coupon),
        )
        .route(
            "/staff/fulfilment",
            get(crate::rewards::pages::show_fulfilment)
                .post(crate::rewards::pages::submit_fulfilment),
        )
        .route(
            "/invite/{token}",
            get(crate::staff::pages::show_join).post(crate::staff::pages::submit_join),
        )
        .route(
            "/signup",
            get(crate::tenants::pages::show).post(crate::tenants::pages::submit),
        )
        .route(
            "/reset/{token}",
            get(crate::staff::pages::show_reset).post(crate::staff::pages::submit_reset),
        )
        .route(
            "/invite/{token}/qr.svg",
            get(crate::staff::pages::invitation_qr),
        )
        .layer(axum::middleware::from_fn(crate::web::remember_language))
        .layer(axum::middleware::from_fn(crate::web::remember_path));

    let router = Router::new()
        .merge(api)
        .nest("/api/v1", Router::new().fallback(api_not_found))
        .route("/api/openapi.json", get(ops::openapi_json))
        .route("/api/docs", get(ops::api_reference))
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics_endpoint))
        .merge(pages)
        .layer(DefaultBodyLimit::max(state.settings.max_body_bytes))
        .layer(from_fn_with_state(state.clone(), request_timeout))
        .layer(CatchPanicLayer::custom(|_| {
            ApiError::internal("handler panicked").into_response()
        }))
        .layer(from_fn_with_state(state.clone(), context::request_meta));
    let router = router.with_state(state.clone());
    (state, router)
}

/// Periodic jobs: expiring points, expired sessions, old idempotency keys, rate-limit
/// memory; every `housekeeping_secs` (the first run at start), none when it is 0.
pub fn spawn_housekeeping(state: AppState) -> Option<tokio::task::JoinHandle<()>> {
    let every = state.settings.housekeeping_secs;
    if every == 0 {
        return None;
    }
    Some(tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(every));
        loop {
            tick.tick().await;
            match crate::ledger::run_expiry(&state.db, state.clock.now_micros()).await {
                Ok(run) if run.lots == 0 => {}
                Ok(run) => tracing::info!(
                    lots = run.lots,
                    points = run.points,
                    batches = run.batches,
                    longest_ms = run.longest.as_millis() as u64,
                    "expired points"
                ),
                Err(e) => {
                    housekeeping_failed("expiry");
                    tracing::warn!(error = %e, "expiry run failed")
                }
            }
            match crate::earning::run_birthday_bonuses(&state.db, state.clock.now_micros()).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(members = n, "granted birthday bonuses"),
                Err(e) => {
                    housekeeping_failed("birthday_bonuses");
                    tracing::warn!(error = %e, "birthday bonus run failed")
                }
            }
            match crate::tiers::run_reviews(&state.db, state.clock.now_micros(), None).await {
                Ok(r) if r.reviewed == 0 => {}
                Ok(r) => tracing::info!(
                    reviewed = r.reviewed,
                    downgraded = r.downgraded,
                    "reviewed tiers"
                ),
                Err(e) => {
                    housekeeping_failed("tier_reviews");
                    tracing::warn!(error = %e, "tier review failed")
                }
            }
            match crate::rewards::run_coupon_expiry(&state.db, state.clock.now_micros()).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(coupons = n, "expired unused coupons"),
                Err(e) => {
                    housekeeping_failed("coupon_expiry");
                    tracing::warn!(error = %e, "coupon expiry failed")
                }
            }
            state.login_limiter.shrink(std::time::Instant::now());
            state.signup_limiter.shrink(std::time::Instant::now());
            state.otp_limiter.shrink();
            if let Err(e) = crate::auth::sessions::purge_expired(&state.db).await {
                housekeeping_failed("staff_sessions");
                tracing::warn!(error = %e, "purging sessions failed");
            }
            if let Err(e) = crate::members::store::purge_expired_member_sessions(&state.db).await {
                housekeeping_failed("member_sessions");
                tracing::warn!(error = %e, "purging member sessions failed");
            }
            if let Err(e) = idempotency::purge_older_than(&state.db, 24).await {
                housekeeping_failed("idempotency_keys");
                tracing::warn!(error = %e, "purging idempotency keys failed");
            }
        }
    }))
}

/// A periodic job failed (it is tried again at the next tick): counted in
/// `loyal_housekeeping_failures_total`, so an alert need not read the log.
fn housekeeping_failed(job: &'static str) {
    debug_assert!(crate::http::ops::HOUSEKEEPING_JOBS.contains(&job), "{job}");
    metrics::counter!("loyal_housekeeping_failures_total", "job" => job).increment(1);
}

/// Serve until `shutdown` resolves; then stop accepting, let in-flight requests finish
/// for up to the grace period, and close the database.
pub async fn serve(
    listener: tokio::net::TcpListener,
    db: Db,
    settings: Settings,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    serve_with_clock(
        listener,
        db,
        settings,
        crate::clock::Clock::default(),
        shutdown,
    )
    .await
}

/// [`serve`], going by `clock` (a test's, which it moves ahead instead of sleeping).
pub async fn serve_with_clock(
    listener: tokio::net::TcpListener,
    db: Db,
    settings: Settings,
    clock: crate::clock::Clock,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let grace = Duration::from_secs(settings.shutdown_grace_secs);
    let header_timeout = Duration::from_secs(settings.header_read_timeout_secs);
    // Uploads and the key file live here: the server user's alone.
    crate::files::private_dir(&settings.data_dir)?;
    let (state, router) = build(db.clone(), settings, clock);
    let interrupted = crate::members::import_jobs::fail_interrupted(&db).await?;
    if interrupted > 0 {
        tracing::warn!(
            jobs = interrupted,
            "member imports interrupted by the last stop were marked failed"
        );
    }
    let housekeeping = spawn_housekeeping(state);
    accept_until(listener, router, header_timeout, shutdown, grace).await;
    if let Some(housekeeping) = housekeeping {
        housekeeping.abort();
    }
    db.close().await;
    Ok(())
}

/// Accept connections and serve each until `shutdown` resolves; then stop accepting, let
/// in-flight requests finish for up to `grace`, and drop what is left. A client gets
/// `header_timeout` to send a request's headers (a connection trickling them in is
/// closed); the request's own time limit covers its body and its handling.
async fn accept_until(
    listener: tokio::net::TcpListener,
    router: Router,
    header_timeout: Duration,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    grace: Duration,
) {
    use axum::extract::ConnectInfo;
    use hyper_util::rt::{TokioIo, TokioTimer};
    use tower::ServiceExt;
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(header_timeout);
    let connections = hyper_util::server::graceful::GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors, most likely: wait rather than spin.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let service = router.clone().map_request(
            move |mut req: axum::http::Request<hyper::body::Incoming>| {
                req.extensions_mut().insert(ConnectInfo(peer));
                req.map(axum::body::Body::new)
            },
        );
        let conn = http.serve_connection(
            TokioIo::new(stream),
            hyper_util::service::TowerToHyperService::new(service),
        );
        let conn = connections.watch(conn);
        tokio::spawn(async move {
            let _ = conn.await;
        });
    }
    tracing::info!("shutting down: finishing in-flight requests");
    tokio::select! {
        _ = connections.shutdown() => {}
        _ = tokio::time::sleep(grace) => {
            tracing::warn!("grace period over; dropping remaining connections");
        }
    }
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}
