//! Invariant: the crate graph keeps its shape. Which workspace crate may depend on which, and which
//! stay free of I/O and framework crates, read from `cargo metadata` (normal dependencies only: a
//! crate's tests may cross layers through dev-dependencies).

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::sync::OnceLock;

use serde_json::Value;

use crate::workspace_root;

/// Where a workspace crate sits. A new crate must be placed here (and in `docs/architecture.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layer {
    Domain,
    Ports,
    Services,
    Adapter,
    OfflineMatch,
    /// The statement file readers: pure like the domain, on which alone they may depend.
    Statements,
    Shell,
    TestSupport,
    Tests,
}

fn layer(package: &str) -> Layer {
    match package {
        "payymo-domain" => Layer::Domain,
        "payymo-ports" => Layer::Ports,
        "payymo-services" => Layer::Services,
        "payymo-offline-match" => Layer::OfflineMatch,
        "payymo-statements" => Layer::Statements,
        "payymo-api" => Layer::Shell,
        "payymo-test-support" => Layer::TestSupport,
        "payymo-tests" => Layer::Tests,
        p if p.starts_with("payymo-adapter-") => Layer::Adapter,
        other => panic!(
            "the workspace crate {other} has no place in the architecture: give it a layer in \
             tests/tests/architecture/crate_graph.rs and a line in docs/architecture.md"
        ),
    }
}

/// The workspace crates a crate of `layer` may depend on (normal dependencies).
fn may_depend_on(from: Layer, to: Layer) -> bool {
    use Layer::{
        Adapter, Domain, OfflineMatch, Ports, Services, Shell, Statements, TestSupport, Tests,
    };
    match from {
        Domain => false,
        Ports | OfflineMatch | Statements => to == Domain,
        Services | Adapter => matches!(to, Domain | Ports),
        TestSupport => !matches!(to, Shell | Tests),
        Shell => !matches!(to, TestSupport | Tests),
        Tests => true,
    }
}

/// Edges the layer rules forbid but that exist on purpose, each with its reason. None today: no
/// adapter uses another adapter, services or the shell.
const ALLOWED_EXCEPTIONS: &[(&str, &str, &str)] = &[];

/// Crates that do I/O or are a framework, a database layer or an HTTP stack.
fn is_io_or_framework(name: &str) -> bool {
    ["tokio", "diesel", "reqwest", "hyper", "sqlx", "mio"]
        .iter()
        .any(|c| {
            name == *c || name.starts_with(&format!("{c}-")) || name.starts_with(&format!("{c}_"))
        })
        || name.starts_with("actix")
}

/// Crates that are a web framework, a database layer or an HTTP stack (the core uses a runtime's
/// timers and tasks, never these).
fn is_framework_database_or_http(name: &str) -> bool {
    is_io_or_framework(name) && !name.starts_with("tokio") && name != "mio"
}

/// The resolved graph of this host's build.
struct Graph {
    /// Package id to package name.
    names: BTreeMap<String, String>,
    /// Package id to (dependency id, is a normal dependency, is a dev-dependency).
    deps: BTreeMap<String, Vec<(String, bool, bool)>>,
    /// The workspace members' ids.
    members: Vec<String>,
}

fn run(command: &mut Command) -> String {
    let out = command
        .output()
        .unwrap_or_else(|error| panic!("cannot run {command:?}: {error}"));
    assert!(
        out.status.success(),
        "{command:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn host_triple() -> String {
    run(Command::new("rustc").arg("-vV"))
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .unwrap_or_else(|| panic!("`rustc -vV` names no host"))
        .trim()
        .to_owned()
}

fn text<'a>(value: &'a Value, key: &str) -> &'a str {
    value[key]
        .as_str()
        .unwrap_or_else(|| panic!("cargo metadata: no string `{key}` in {value}"))
}

fn array<'a>(value: &'a Value, key: &str) -> &'a [Value] {
    value[key]
        .as_array()
        .map_or_else(|| panic!("cargo metadata: no array `{key}`"), Vec::as_slice)
}

impl Graph {
    /// The graph, read once per test run.
    fn get() -> &'static Self {
        static GRAPH: OnceLock<Graph> = OnceLock::new();
        GRAPH.get_or_init(Self::load)
    }

    fn load() -> Self {
        // Resolved for this host only: that works offline, with every crate the build needed.
        let json = run(Command::new(env!("CARGO"))
            .current_dir(workspace_root())
            .args(["metadata", "--format-version", "1", "--locked", "--offline"])
            .args(["--filter-platform", &host_triple()]));
        let metadata: Value = serde_json::from_str(&json)
            .unwrap_or_else(|error| panic!("cargo metadata printed no JSON: {error}"));
        let names = array(&metadata, "packages")
            .iter()
            .map(|p| (text(p, "id").to_owned(), text(p, "name").to_owned()))
            .collect();
        let deps = array(&metadata["resolve"], "nodes")
            .iter()
            .map(|node| {
                let edges = array(node, "deps")
                    .iter()
                    .map(|d| {
                        let kinds = array(d, "dep_kinds");
                        let normal = kinds.iter().any(|k| k["kind"].is_null());
                        let dev = kinds.iter().any(|k| k["kind"] == "dev");
                        (text(d, "pkg").to_owned(), normal, dev)
                    })
                    .collect();
                (text(node, "id").to_owned(), edges)
            })
            .collect();
        let members = array(&metadata, "workspace_members")
            .iter()
            .map(|m| {
                m.as_str()
                    .unwrap_or_else(|| panic!("cargo metadata: a member id is not a string"))
                    .to_owned()
            })
            .collect();
        Self {
            names,
            deps,
            members,
        }
    }

    fn name<'a>(&'a self, id: &'a str) -> &'a str {
        self.names.get(id).map_or(id, String::as_str)
    }

    fn member_names(&self) -> BTreeSet<&str> {
        self.members.iter().map(|id| self.name(id)).collect()
    }

    fn edges(&self, id: &str) -> &[(String, bool, bool)] {
        self.deps.get(id).map_or(&[], Vec::as_slice)
    }

    /// Every crate reachable from `id` over normal dependencies, with the path to it.
    fn normal_closure(&self, id: &str) -> BTreeMap<String, Vec<String>> {
        let mut seen: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut stack = vec![(id.to_owned(), vec![self.name(id).to_owned()])];
        while let Some((at, path)) = stack.pop() {
            for (dep, normal, _) in self.edges(&at) {
                if *normal && !seen.contains_key(dep) {
                    let mut to = path.clone();
                    to.push(self.name(dep).to_owned());
                    seen.insert(dep.clone(), to.clone());
                    stack.push((dep.clone(), to));
                }
            }
        }
        seen
    }

    /// The offending paths from each member `applies` selects to a crate `forbidden` matches.
    fn forbidden_beneath(
        &self,
        applies: impl Fn(Layer) -> bool,
        forbidden: impl Fn(&str) -> bool,
    ) -> Vec<String> {
        let mut offenders = Vec::new();
        for member in &self.members {
            if !applies(layer(self.name(member))) {
                continue;
            }
            for (dep, path) in self.normal_closure(member) {
                if forbidden(self.name(&dep)) {
                    offenders.push(path.join(" -> "));
                }
            }
        }
        offenders.sort();
        offenders
    }
}

fn assert_none(offenders: &[String], rule: &str) {
    assert!(
        offenders.is_empty(),
        "{rule}; offending dependencies:\n  {}",
        offenders.join("\n  ")
    );
}

#[test]
fn every_workspace_crate_has_a_place_in_the_architecture() {
    let graph = Graph::get();
    let members = graph.member_names();
    for expected in [
        "payymo-domain",
        "payymo-ports",
        "payymo-services",
        "payymo-api",
    ] {
        assert!(
            members.contains(expected),
            "{expected} is not a workspace member"
        );
    }
    for member in members {
        layer(member);
    }
}

#[test]
fn workspace_crates_depend_only_on_the_layers_beneath_them() {
    let graph = Graph::get();
    let mut offenders = Vec::new();
    for member in &graph.members {
        let from = graph.name(member);
        for (dep, normal, _) in graph.edges(member) {
            let to = graph.name(dep);
            if !*normal || !graph.members.contains(dep) {
                continue;
            }
            let allowed = may_depend_on(layer(from), layer(to))
                || ALLOWED_EXCEPTIONS
                    .iter()
                    .any(|(f, t, _)| *f == from && *t == to);
            if !allowed {
                offenders.push(format!(
                    "{from} -> {to} ({:?} -> {:?})",
                    layer(from),
                    layer(to)
                ));
            }
        }
    }
    assert_none(
        &offenders,
        "domain depends on no workspace crate, ports, offline-match and statements only on domain, \
         services and every adapter only on domain and ports, nothing product-side on test-support",
    );
}

#[test]
fn nothing_depends_on_the_shell_but_the_black_box_tests() {
    let graph = Graph::get();
    let mut offenders = Vec::new();
    for member in &graph.members {
        let from = graph.name(member);
        for (dep, normal, dev) in graph.edges(member) {
            if (*normal || *dev) && graph.name(dep) == "payymo-api" && from != "payymo-tests" {
                offenders.push(format!("{from} -> payymo-api"));
            }
        }
    }
    assert_none(
        &offenders,
        "only payymo-tests may depend on payymo-api (apps/api)",
    );
}

#[test]
fn the_domain_does_no_io_and_knows_no_framework() {
    let offenders = Graph::get().forbidden_beneath(
        |l| matches!(l, Layer::Domain | Layer::Statements),
        is_io_or_framework,
    );
    assert_none(
        &offenders,
        "payymo-domain and payymo-statements must not depend, even indirectly, on tokio, diesel, \
         reqwest, actix, hyper or sqlx",
    );
}

#[test]
fn the_core_knows_no_web_framework_database_or_http_client() {
    let offenders = Graph::get().forbidden_beneath(
        |l| matches!(l, Layer::Ports | Layer::Services | Layer::OfflineMatch),
        is_framework_database_or_http,
    );
    assert_none(
        &offenders,
        "payymo-ports, payymo-services and payymo-offline-match must not depend, even indirectly, \
         on actix, diesel, reqwest, hyper or sqlx",
    );
}

#[test]
fn only_the_shell_knows_actix_and_only_the_diesel_adapter_knows_diesel() {
    let graph = Graph::get();
    let mut offenders = Vec::new();
    for member in &graph.members {
        let from = graph.name(member);
        for (dep, normal, _) in graph.edges(member) {
            let to = graph.name(dep);
            let allowed = match to {
                t if t.starts_with("actix") => matches!(from, "payymo-api" | "payymo-tests"),
                t if t.starts_with("diesel") => {
                    matches!(from, "payymo-adapter-diesel" | "payymo-test-support")
                }
                _ => true,
            };
            if *normal && !allowed {
                offenders.push(format!("{from} -> {to}"));
            }
        }
    }
    assert_none(
        &offenders,
        "only payymo-api (and its black-box tests) names actix, only payymo-adapter-diesel (and \
         test-support) names diesel",
    );
}
