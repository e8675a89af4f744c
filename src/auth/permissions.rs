//! Roles and permissions: pure data, no I/O. The role → permission table below is the
//! only place that says who may do what; each API route names the one permission it
//! needs in its OpenAPI annotation (see `http::openapi`).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

macro_rules! permissions {
    ($( $variant:ident = $name:literal, $doc:literal; )+) => {
        /// Something a staff member or an API key may be allowed to do.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Permission { $( #[doc = $doc] $variant, )+ }

        impl Permission {
            pub const ALL: &'static [Permission] = &[$( Permission::$variant, )+];
            pub fn as_str(self) -> &'static str { match self { $( Permission::$variant => $name, )+ } }
            pub fn describe(self) -> &'static str { match self { $( Permission::$variant => $doc, )+ } }
        }

        impl FromStr for Permission {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s { $( $name => Ok(Permission::$variant), )+ _ => Err(format!("unknown permission {s:?}")) }
            }
        }
    };
}

permissions! {
    TenantRead = "tenant.read", "See the shop's settings";
    TenantManage = "tenant.manage", "Change the shop's settings";
    BranchesRead = "branches.read", "List branches";
    BranchesManage = "branches.manage", "Create and change branches";
    StaffRead = "staff.read", "List staff";
    StaffManage = "staff.manage", "Invite staff, change roles and branches, deactivate staff";
    ApiKeysManage = "api_keys.manage", "Create, list and revoke API keys";
    AuditRead = "audit.read", "Read the audit log";
    MembersRead = "members.read", "Find and view members";
    MembersWrite = "members.write", "Enrol and change members";
    MembersSensitive = "members.sensitive", "See a member's national ID in full (every view is audited)";
    PointsEarn = "points.earn", "Record purchases and refunds (points are computed by the rules)";
    PointsRedeem = "points.redeem", "Spend a member's points";
    PointsAdjust = "points.adjust", "Grant or deduct points by hand, with a reason";
    RulesManage = "rules.manage", "Change earning rules, expiry and refund policies";
    ReportsRead = "reports.read", "Read reports (points liability, ...)";
    RewardsManage = "rewards.manage", "Change the rewards catalog, digital code pools and lucky draws";
    CouponsValidate = "coupons.validate", "Check coupons and vouchers at a branch and mark them used";
    FulfilmentManage = "fulfilment.manage", "See redemptions, pack and ship rewards, cancel them with the points refunded";
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Permission {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Permission {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A staff member's role in one shop.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Owner,
    Admin,
    Manager,
    Cashier,
    Fulfilment,
    Analyst,
}

impl Role {
    pub const ALL: &'static [Role] = &[
        Role::Owner,
        Role::Admin,
        Role::Manager,
        Role::Cashier,
        Role::Fulfilment,
        Role::Analyst,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Manager => "manager",
            Role::Cashier => "cashier",
            Role::Fulfilment => "fulfilment",
            Role::Analyst => "analyst",
        }
    }

    /// What this role may do.
    pub fn permissions(self) -> &'static [Permission] {
        use Permission::*;
        match self {
            Role::Owner | Role::Admin => Permission::ALL,
            Role::Manager => &[
                TenantRead,
                BranchesRead,
                StaffRead,
                AuditRead,
                MembersRead,
                MembersWrite,
                PointsEarn,
                PointsRedeem,
                PointsAdjust,
                ReportsRead,
                CouponsValidate,
                FulfilmentManage,
            ],
            Role::Cashier => &[
                TenantRead,
                BranchesRead,
                MembersRead,
                MembersWrite,
                PointsEarn,
                PointsRedeem,
                CouponsValidate,
            ],
            Role::Fulfilment => &[TenantRead, BranchesRead, MembersRead, FulfilmentManage],
            Role::Analyst => &[
                TenantRead,
                BranchesRead,
                AuditRead,
                MembersRead,
                ReportsRead,
            ],
        }
    }

    pub fn allows(self, permission: Permission) -> bool {
        self.permissions().contains(&permission)
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Role::ALL
            .iter()
            .copied()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| format!("unknown role {s:?}; use one of owner, admin, manager, cashier, fulfilment, analyst"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owner_can_do_everything_and_cashier_cannot_manage() {
        assert!(Permission::ALL.iter().all(|p| Role::Owner.allows(*p)));
        assert!(!Role::Cashier.allows(Permission::StaffManage));
        assert!(!Role::Analyst.allows(Permission::BranchesManage));
    }

    #[test]
    fn names_round_trip() {
        for r in Role::ALL {
            assert_eq!(r.as_str().parse::<Role>().unwrap(), *r);
        }
        for p in Permission::ALL {
            assert_eq!(p.as_str().parse::<Permission>().unwrap(), *p);
        }
    }
}
