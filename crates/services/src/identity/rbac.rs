//! Role-based access control: which role holds which permission.
//!
//! The table lives here, in one function, so `docs/architecture.md` can mirror it and a test can
//! freeze it.

use payymo_domain::user::Role;

/// Something an endpoint needs. Every protected endpoint names exactly one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Permission {
    /// Read the tenant's data (transactions, invoices, matches, connections, users' list).
    TenantRead,
    /// Manage bank, Stripe and WHMCS connections; trigger syncs and imports.
    ConnectionsManage,
    /// Approve, reject, apply and undo matches.
    MatchesDecide,
    /// Change the tenant's reconciliation settings.
    SettingsManage,
    /// Create, change, disable, unlock and delete the tenant's users.
    UsersManage,
    /// Create, list and revoke the tenant's API keys.
    ApiKeysManage,
    /// Read the tenant's audit log.
    AuditRead,
    /// Operate the platform: tenants, licences, statistics.
    PlatformManage,
}

impl Permission {
    /// Every permission.
    pub const ALL: [Self; 8] = [
        Self::TenantRead,
        Self::ConnectionsManage,
        Self::MatchesDecide,
        Self::SettingsManage,
        Self::UsersManage,
        Self::ApiKeysManage,
        Self::AuditRead,
        Self::PlatformManage,
    ];

    /// The stable name (docs, audit details, API key scopes).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::TenantRead => "tenant:read",
            Self::ConnectionsManage => "connections:manage",
            Self::MatchesDecide => "matches:decide",
            Self::SettingsManage => "settings:manage",
            Self::UsersManage => "users:manage",
            Self::ApiKeysManage => "api_keys:manage",
            Self::AuditRead => "audit:read",
            Self::PlatformManage => "platform:manage",
        }
    }

    /// Parses a stable name.
    #[must_use]
    pub fn parse(word: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == word)
    }
}

/// Whether `role` holds `permission`. An API key (role `api_integration`) holds exactly what its
/// scopes grant instead (see `Authorizer::authorize`); as a role it can read its tenant.
#[must_use]
pub const fn role_allows(role: Role, permission: Permission) -> bool {
    use Permission as P;
    match role {
        Role::ReadOnly | Role::ApiIntegration => matches!(permission, P::TenantRead),
        Role::AccountManager => matches!(permission, P::TenantRead | P::ConnectionsManage),
        Role::FinancialAdmin => !matches!(permission, P::PlatformManage),
        Role::SystemAdmin => matches!(permission, P::PlatformManage),
    }
}

/// Whether a user of `role` must have MFA enrolled before doing anything but enrolling.
#[must_use]
pub const fn role_requires_mfa(role: Role) -> bool {
    matches!(role, Role::FinancialAdmin | Role::SystemAdmin)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_permission_table_is_frozen() {
        let table: Vec<(Role, Vec<&str>)> = Role::ALL
            .into_iter()
            .map(|role| {
                let held = Permission::ALL
                    .into_iter()
                    .filter(|p| role_allows(role, *p))
                    .map(Permission::as_str)
                    .collect();
                (role, held)
            })
            .collect();
        assert_eq!(
            table,
            vec![
                (Role::ReadOnly, vec!["tenant:read"]),
                (
                    Role::AccountManager,
                    vec!["tenant:read", "connections:manage"]
                ),
                (
                    Role::FinancialAdmin,
                    vec![
                        "tenant:read",
                        "connections:manage",
                        "matches:decide",
                        "settings:manage",
                        "users:manage",
                        "api_keys:manage",
                        "audit:read"
                    ]
                ),
                (Role::ApiIntegration, vec!["tenant:read"]),
                (Role::SystemAdmin, vec!["platform:manage"]),
            ]
        );
    }

    #[test]
    fn permission_names_round_trip() {
        for p in Permission::ALL {
            assert_eq!(Permission::parse(p.as_str()), Some(p));
        }
        assert_eq!(Permission::parse("everything"), None);
    }

    #[test]
    fn only_the_powerful_roles_require_mfa() {
        let requiring: Vec<Role> = Role::ALL
            .into_iter()
            .filter(|r| role_requires_mfa(*r))
            .collect();
        assert_eq!(requiring, vec![Role::FinancialAdmin, Role::SystemAdmin]);
    }
}
