//! The rules bound to their metric series: which route, auth type and user operation a request
//! counts under.

use std::sync::Arc;

use crate::metrics::{Metrics, RouteStats};
use crate::routes::{self, AuthType, Config, Unmatched, UserOp};

/// The rules bound to their metric series. Each worker builds its own from the shared rules
/// (on start and after a reload), so the per-request reference counting stays on its core.
#[derive(Clone)]
pub struct Router {
    pub config: Config,
    routes: Vec<Arc<RouteStats>>,
}

/// The series a request is recorded under.
pub enum RouteRef {
    /// The route of rule i of the request's [`Router`].
    Rule(usize),
    Unmatched,
    /// A normalised route.
    Dynamic(Arc<RouteStats>),
}

impl Router {
    pub fn new(config: Config, metrics: &Metrics) -> Self {
        let routes = config
            .rules
            .iter()
            .map(|r| metrics.rule_route(&r.route))
            .collect();
        Self { config, routes }
    }

    pub fn route(
        &self,
        method: usize,
        path: &str,
        metrics: &Metrics,
    ) -> (RouteRef, Option<AuthType>, Option<UserOp>) {
        if let Some((i, r)) = self.config.find(method, path) {
            return (RouteRef::Rule(i), r.auth, r.user_op);
        }
        let stats = match self.config.unmatched {
            Unmatched::Label => RouteRef::Unmatched,
            Unmatched::Normalize { max_routes } => match routes::normalize(path) {
                Some(p) => {
                    let r = metrics.dynamic_route(&p, max_routes);
                    if r.name() == crate::routes::UNMATCHED {
                        RouteRef::Unmatched
                    } else {
                        RouteRef::Dynamic(r)
                    }
                }
                None => RouteRef::Unmatched,
            },
        };
        (stats, None, None)
    }

    /// The stats of a route reference made by this router.
    pub fn stats<'a>(&'a self, r: &'a RouteRef, metrics: &'a Metrics) -> &'a RouteStats {
        match r {
            RouteRef::Rule(i) => &self.routes[*i],
            RouteRef::Unmatched => metrics.unmatched_ref(),
            RouteRef::Dynamic(s) => s,
        }
    }
}
