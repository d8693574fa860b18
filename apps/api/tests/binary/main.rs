//! The `payymo` binary run as a process: the CLI, `create-admin`, `import-statement`, and
//! signing-key rotation on SIGHUP.

mod cli;
mod create_admin;
mod import_statement;
mod key_rotation;
