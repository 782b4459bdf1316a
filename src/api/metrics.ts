import { Registry, collectDefaultMetrics, Counter, Histogram } from 'prom-client';

/** One Prometheus registry per server instance (tests start several in one process). */
export interface Metrics {
  registry: Registry;
  httpDuration: Histogram<'method' | 'route' | 'status'>;
  certificatesIssued: Counter<'profile'>;
  revocations: Counter<'reason'>;
  timestamps: Counter<'outcome'>;
  ocspResponses: Counter<'outcome'>;
}

export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'sealpost_' });
  return {
    registry,
    httpDuration: new Histogram({
      name: 'sealpost_http_request_duration_seconds',
      help: 'HTTP request duration by route',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5],
      registers: [registry],
    }),
    certificatesIssued: new Counter({
      name: 'sealpost_certificates_issued_total',
      help: 'Certificates issued',
      labelNames: ['profile'],
      registers: [registry],
    }),
    revocations: new Counter({
      name: 'sealpost_revocations_total',
      help: 'Certificates revoked',
      labelNames: ['reason'],
      registers: [registry],
    }),
    timestamps: new Counter({
      name: 'sealpost_tsa_responses_total',
      help: 'TSA responses',
      labelNames: ['outcome'],
      registers: [registry],
    }),
    ocspResponses: new Counter({
      name: 'sealpost_ocsp_responses_total',
      help: 'OCSP responses',
      labelNames: ['outcome'],
      registers: [registry],
    }),
  };
}
