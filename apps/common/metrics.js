'use strict';
// prom-client the way a NestJS team adds it: one registry, the default process metrics, an
// Express middleware that counts every answered request by Nest's route path, and a /metrics
// controller. Names and buckets are the ones the gateway sidecar derives from traffic, so the
// two can be compared series by series (make e2e does).
const client = require('prom-client');
const { Controller, Get, Header } = require('@nestjs/common');
const { decorateClass } = require('./nest');

const registry = new client.Registry();
client.collectDefaultMetrics({ register: registry });

const httpRequests = new client.Counter({
  name: 'http_requests_total',
  help: 'HTTP requests answered, by method, route and status code.',
  labelNames: ['method', 'route', 'status_code'],
  registers: [registry],
});
const httpDuration = new client.Histogram({
  name: 'http_request_duration_seconds',
  help: 'Time from a request\'s arrival to the end of its response, by method and route.',
  labelNames: ['method', 'route'],
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], // prom-client's defaults
  registers: [registry],
});

// app.use(httpMetrics): runs before Nest's router, records on `finish`, by then Express has set
// req.route to the matched Nest route (global prefix included). Requests no route matched
// (Nest's 404) are route="unmatched": a raw path would make the label unbounded. /metrics
// itself is not counted (Prometheus scrapes it every few seconds).
function httpMetrics(req, res, next) {
  if (req.path === '/metrics') return next();
  const end = httpDuration.startTimer();
  res.once('finish', () => {
    const route = req.route && req.route.path ? req.route.path : 'unmatched';
    const labels = { method: req.method, route };
    end(labels);
    httpRequests.inc({ ...labels, status_code: String(res.statusCode) });
  });
  next();
}

class MetricsController {
  async metrics() {
    return registry.metrics();
  }
}
decorateClass(MetricsController, [Controller('metrics')], {
  metrics: [[Get(), Header('Content-Type', registry.contentType)]],
});

module.exports = { client, registry, httpMetrics, MetricsController };
