import type { IncomingMessage, ServerResponse } from 'node:http';
import express, { type Express } from 'express';
import helmet from 'helmet';
import { adminRouter } from './admin/admin-router.js';
import { brokerRouter, ENDPOINT_PATHS } from './broker/http/broker-router.js';
import { errorMiddleware, notFound } from './http/error-middleware.js';
import { localOps, opsRouter, publicProbesRouter, type OpsSource } from './http/ops-router.js';
import { requestContext } from './http/request-context.js';
import { serveOpenApiDocument } from './proxy/openapi-document-endpoint.js';
import { OpenApiDocumentCache } from './proxy/openapi-document-cache.js';
import { fetchAirflowOpenApi } from './proxy/openapi-document-source.js';
import { createProxyHandler } from './proxy/proxy-handler.js';
import { loginRouter } from './login/login-router.js';
import { rateLimitByAddress } from './broker/http/client-auth-steps.js';
import { SessionCaller } from './proxy/session-caller.js';
import type { Services } from './services.js';

/**
 * Composes the public HTTP surface: context, security headers, broker endpoints, admin API, the load balancer's
 * probes, and the one error answer. Metrics and readiness details are on the ops listener ({@link createOpsApp}).
 */
export function createApp(s: Services): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', s.config.server.trust_proxy);
  app.set('etag', false);
  app.use(requestContext(s.logger));
  app.use(helmet());
  app.use(brokerRouter(s));
  app.use(adminRouter(s));
  if (s.logins) {
    const deployments = Object.keys(s.config.upstreams);
    app.use(loginRouter({ logins: s.logins, policies: s.policies, deployments, bodyLimit: s.config.server.body_limit, limitByAddress: rateLimitByAddress(s) }));
  }
  app.use(publicProbesRouter(localOps(s)));
  app.use(notFound);
  app.use(errorMiddleware({ scheme: 'Basic', realm: 'airflow-token-broker' }));
  return app;
}

/** The ops listener's app (`server.ops`): `/healthz`, `/readyz` with details, `/metrics`, nothing else. */
export function createOpsApp(source: OpsSource): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use(opsRouter(source));
  app.use(notFound);
  app.use(errorMiddleware({ scheme: 'Bearer', realm: 'airflow-token-broker' }));
  return app;
}

/**
 * The server's request listener: proxied Airflow calls go straight to the proxy pipeline (no express stack on
 * the hot path); everything else to the express app.
 */
export function createRequestListener(s: Services): (req: IncomingMessage, res: ServerResponse) => void {
  const app = createApp(s);
  const prefix = s.config.proxy.path_prefix + '/';
  const proxy = createProxyHandler({
    prefix: s.config.proxy.path_prefix,
    deployments: s.deployments,
    authenticator: s.authenticator,
    policies: s.policies,
    airflowKeys: s.airflowKeys,
    audit: s.audit,
    logger: s.logger,
    metrics: s.metrics,
    ...(s.logins ? { sessions: new SessionCaller(s.logins, s.tokens, s.config.issuer, s.now) } : {}),
    openApiDocument: serveOpenApiDocument({
      issuer: s.config.issuer,
      prefix: s.config.proxy.path_prefix,
      tokenUrl: s.config.issuer.replace(/\/$/, '') + ENDPOINT_PATHS.token,
      authenticator: s.authenticator,
      policies: s.policies,
      // Airflow's document changes only when Airflow (or a plugin) does: asked again every 10 minutes.
      documents: new OpenApiDocumentCache(fetchAirflowOpenApi, { lifetimeMs: 10 * 60_000, now: s.now }),
    }),
  });
  return (req, res) => (req.url?.startsWith(prefix) ? proxy(req, res) : app(req, res));
}
