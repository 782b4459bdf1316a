import type { Logger } from 'pino';
import { TimeStampSigner, TspRequestError, parseTimeStampRequest, timeStampRejection } from '../pkix/tsp.js';
import { defaultHashFor } from '../crypto/key-handle.js';
import type { CaService } from '../ca/ca-service.js';
import type { Store } from '../store/database.js';
import type { KeyUseRecorder } from '../audit/key-use-recorder.js';
import { SerialAllocator } from './serial-allocator.js';

export interface TsaOptions {
  policy: string;
  accuracyMs: number;
}

/** RFC 3161 timestamp authority: one signer per node, serials from the shared allocator. */
export class TsaService {
  private signer: TimeStampSigner | undefined;
  private keyId = '';
  private readonly serials: SerialAllocator;

  constructor(
    private readonly ca: CaService,
    store: Store,
    private readonly keyUse: KeyUseRecorder,
    private readonly options: TsaOptions,
    private readonly log: Logger,
  ) {
    this.serials = new SerialAllocator(store, 'tsa-serial');
  }

  async start(): Promise<void> {
    const creds = await this.ca.serviceCredentials('tsa');
    this.keyId = creds.key.id;
    this.signer = new TimeStampSigner({
      certificate: creds.certificate.der,
      // The chain minus the root (relying parties hold the root as their trust anchor).
      chain: creds.chain.filter((c) => c.subjectString !== c.issuerString).map((c) => c.der),
      key: creds.key.handle,
      hash: defaultHashFor(creds.key.algorithm),
      policy: this.options.policy,
      accuracy: { millis: this.options.accuracyMs },
    });
    this.log.info({ tsa: creds.certificate.subjectString, policy: this.options.policy }, 'TSA ready');
  }

  /** Answer a DER TimeStampReq with a DER TimeStampResp; protocol errors become PKIStatus rejections. */
  async respond(body: Uint8Array): Promise<{ der: Buffer; granted: boolean }> {
    const signer = this.signer;
    if (!signer)
      return { der: timeStampRejection('systemFailure', 'TSA is starting, try again'), granted: false };
    let request;
    try {
      request = parseTimeStampRequest(body);
    } catch (err) {
      if (err instanceof TspRequestError)
        return { der: timeStampRejection(err.failInfo, err.message), granted: false };
      return {
        der: timeStampRejection('badDataFormat', 'the request is not a DER TimeStampReq'),
        granted: false,
      };
    }
    if (request.reqPolicy && request.reqPolicy !== this.options.policy) {
      return {
        der: timeStampRejection(
          'unacceptedPolicy',
          `this TSA only issues under policy ${this.options.policy}`,
        ),
        granted: false,
      };
    }
    const serial = await this.serials.allocate();
    const der = await signer.sign(request, serial, new Date());
    this.keyUse.record(this.keyId, 'tsa', serial.toString());
    return { der, granted: true };
  }
}
