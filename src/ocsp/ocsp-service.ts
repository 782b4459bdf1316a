import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import {
  OcspRequestError,
  OcspResponder,
  ocspErrorResponse,
  parseOcspRequest,
  type OcspCertId,
  type OcspSingleAnswer,
} from '../pkix/ocsp.js';
import { defaultHashFor } from '../crypto/key-handle.js';
import type { CaService } from '../ca/ca-service.js';
import { ISSUING_ID, ROOT_ID } from '../ca/ca-service.js';
import type { KeyUseRecorder } from '../audit/key-use-recorder.js';
import { OcspResponseCache } from './response-cache.js';

export interface OcspOptions {
  validityMinutes: number;
  /** How often to look for revocations made by other nodes. */
  pollMs: number;
}

export interface OcspAnswer {
  der: Buffer;
  /** HTTP caching metadata (RFC 5019 §6.2) when the response can be shared; absent for nonce or error answers. */
  cache?: { thisUpdate: Date; nextUpdate: Date; etag: string };
}

interface ResponderEntry {
  authorityId: string;
  responder: OcspResponder;
  keyId: string;
}

/**
 * RFC 6960 responder. The issuing CA's certificates are answered by a delegated responder
 * (id-kp-OCSPSigning + ocsp-nocheck); the root answers for the issuing CA certificate itself.
 */
export class OcspService {
  private responders: ResponderEntry[] = [];
  // Two keys per certificate (its CertID and the request bytes): room for the default 100,000 certificates.
  private readonly cache = new OcspResponseCache(200_000);
  private lastEventId = 0;
  /** Bumped whenever revocations are seen, so an answer computed across a revocation is not cached. */
  private revocationEpoch = 0;
  private poller: NodeJS.Timeout | undefined;

  constructor(
    private readonly ca: CaService,
    private readonly keyUse: KeyUseRecorder,
    private readonly options: OcspOptions,
    private readonly log: Logger,
  ) {}

  async start(): Promise<void> {
    const delegated = await this.ca.serviceCredentials('ocsp');
    const issuing = await this.ca.authority(ISSUING_ID);
    const root = await this.ca.authority(ROOT_ID);
    const responders: ResponderEntry[] = [
      {
        authorityId: ISSUING_ID,
        keyId: delegated.key.id,
        responder: new OcspResponder({
          issuerCertificate: issuing.certificate.der,
          responderCertificate: delegated.certificate.der,
          responderKey: delegated.key.handle,
          hash: defaultHashFor(delegated.key.algorithm),
        }),
      },
    ];
    // The root answers for the CA certificates it issued, when its key is here (an imported root's is not).
    if (root.key) {
      responders.push({
        authorityId: ROOT_ID,
        keyId: root.key.id,
        responder: new OcspResponder({
          issuerCertificate: root.certificate.der,
          responderCertificate: root.certificate.der,
          responderKey: root.key.handle,
          hash: defaultHashFor(root.key.algorithm),
        }),
      });
    }
    this.responders = responders;
    this.lastEventId = await this.ca.lastRevocationEventId();
    this.poller = setInterval(() => void this.pollRevocations(), this.options.pollMs);
    this.poller.unref();
  }

  stop(): void {
    if (this.poller) clearInterval(this.poller);
    this.poller = undefined;
  }

  /** Drop cached answers for serials revoked since the last poll (by this node or any other). */
  async pollRevocations(): Promise<void> {
    try {
      const events = await this.ca.revocationEventsSince(this.lastEventId);
      if (events.length > 0) this.revocationEpoch++;
      for (const e of events) {
        this.cache.invalidateSerial(e.serial);
        this.lastEventId = Math.max(this.lastEventId, e.id);
      }
    } catch (err) {
      this.log.warn({ err }, 'OCSP: could not poll revocation events');
    }
  }

  async respond(body: Uint8Array): Promise<OcspAnswer> {
    // Most clients repeat byte-identical no-nonce requests: answer those from the cache without parsing.
    // The answer depends only on these bytes, and the entry is dropped with its serial on revocation.
    const requestKey = body.length <= MAX_REQUEST_KEY_BYTES ? requestCacheKey(body) : '';
    if (requestKey) {
      const hit = this.cache.get(requestKey);
      if (hit) return { der: hit.der, cache: hit };
    }
    let request;
    try {
      request = parseOcspRequest(body);
    } catch (err) {
      if (err instanceof OcspRequestError) return { der: ocspErrorResponse('malformedRequest') };
      throw err;
    }
    const [first] = request.certIds;
    if (!first) return { der: ocspErrorResponse('malformedRequest') };
    const entry = this.responderFor(first);
    // RFC 6960 §2.3: a request about a CA we do not serve gets "unauthorized".
    if (!entry || request.certIds.some((id) => !entry.responder.servesIssuer(id)))
      return { der: ocspErrorResponse('unauthorized') };

    const cacheable = request.nonce === undefined && request.certIds.length === 1;
    const cacheKey = cacheable ? first.der.toString('hex') : '';
    if (cacheable) {
      const hit = this.cache.get(cacheKey);
      if (hit) {
        if (requestKey) this.cache.set(requestKey, first.serialHex, hit);
        return { der: hit.der, cache: hit };
      }
    }

    const epoch = this.revocationEpoch;
    const thisUpdate = new Date(Math.floor(Date.now() / 1000) * 1000);
    const nextUpdate = new Date(thisUpdate.getTime() + this.options.validityMinutes * 60_000);
    const answers: OcspSingleAnswer[] = [];
    for (const certId of request.certIds) {
      answers.push({
        certId,
        status: await this.ca.status(entry.authorityId, certId.serialHex),
        thisUpdate,
        nextUpdate,
      });
    }
    const der = await entry.responder.sign(answers, request.nonce);
    this.keyUse.record(entry.keyId, 'ocsp', first.serialHex);
    if (!cacheable || epoch !== this.revocationEpoch) return { der };
    const cached = {
      der,
      thisUpdate,
      nextUpdate,
      refreshAfter: thisUpdate.getTime() + (nextUpdate.getTime() - thisUpdate.getTime()) / 2,
      etag: `"${createHash('sha1').update(der).digest('hex')}"`,
    };
    this.cache.set(cacheKey, first.serialHex, cached);
    if (requestKey) this.cache.set(requestKey, first.serialHex, cached);
    return { der, cache: cached };
  }

  private responderFor(certId: OcspCertId): ResponderEntry | undefined {
    return this.responders.find((r) => r.responder.servesIssuer(certId));
  }
}

/** Requests longer than this (many CertIDs, extensions) are never cacheable anyway: skip the lookup. */
const MAX_REQUEST_KEY_BYTES = 512;

/** Distinct from the hex CertID keys: latin1 keeps one character per byte, and the prefix cannot be hex. */
function requestCacheKey(body: Uint8Array): string {
  return 'request:' + Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('latin1');
}
