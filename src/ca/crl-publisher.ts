import type { Logger } from 'pino';
import type { Store } from '../store/database.js';
import { campaign } from '../store/leader.js';
import type { CaService } from './ca-service.js';

export interface CrlPublisherOptions {
  validityHours: number;
  refreshHours: number;
  /** How often the leader looks for new revocations and for CRLs due for refresh. */
  pollMs: number;
}

/**
 * Keeps every authority's CRL current. With several nodes on one database only the elected leader
 * signs CRLs (one numbered sequence, RFC 5280 §5.2.3); the others serve the newest CRL from the
 * database. A new CRL is issued when a revocation appears or the current one is half-way to expiry.
 */
export class CrlPublisher {
  private election: { stop(): Promise<void>; isLeader(): boolean } | undefined;
  private timer: NodeJS.Timeout | undefined;
  private lastEventId = -1;
  private running: Promise<void> | undefined;

  constructor(
    private readonly ca: CaService,
    private readonly store: Store,
    private readonly options: CrlPublisherOptions,
    private readonly log: Logger,
  ) {}

  async start(): Promise<void> {
    this.election = await campaign(this.store, 'sealpost:crl-leader', {
      intervalMs: Math.max(this.options.pollMs, 1000),
      onElected: () => {
        this.log.info('elected CRL leader');
        this.kick();
      },
    });
    this.timer = setInterval(() => this.kick(), this.options.pollMs);
    this.timer.unref();
    this.kick();
  }

  isLeader(): boolean {
    return this.election?.isLeader() ?? false;
  }

  /** Run one check now (coalesced with one already running). */
  kick(): Promise<void> {
    this.running ??= this.tick()
      .catch((err) => this.log.error({ err }, 'CRL publication failed'))
      .finally(() => (this.running = undefined));
    return this.running;
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
    await this.election?.stop();
  }

  private async tick(): Promise<void> {
    if (!this.isLeader()) return;
    const latestEvent = await this.ca.lastRevocationEventId();
    const revoked = latestEvent !== this.lastEventId;
    for (const authorityId of await this.ca.authorityIds({ withKey: true })) {
      const current = await this.ca.latestCrl(authorityId);
      const halfLife = current ? current.thisUpdate.getTime() + this.options.refreshHours * 3600_000 : 0;
      if (revoked || !current || Date.now() >= halfLife) {
        await this.ca.issueCrl(authorityId, {
          validityHours: this.options.validityHours,
          actor: 'system:crl-leader',
        });
        this.log.info({ authority: authorityId }, 'CRL issued');
      }
    }
    this.lastEventId = latestEvent;
  }
}
