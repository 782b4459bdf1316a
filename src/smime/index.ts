/** S/MIME for mail (RFC 8551): sign, encrypt, send-ready (sign then encrypt), decrypt, verify. */
export {
  SmimeCredentialError,
  chainWithoutRoot,
  credentialFromFile,
  credentialFromKeyHandle,
  credentialFromPem,
  credentialFromPkcs12,
  decryptionKeyOf,
  type SmimeCredential,
} from './credentials.js';
export {
  SmimeRecipientError,
  chooseAlgorithms,
  type AlgorithmChoice,
  type EncryptionTarget,
} from './algorithms.js';
export {
  IN_MEMORY_LIMIT,
  SmimeMessageError,
  openMessageStream,
  serializeMessage,
  type MessageInput,
  type MessageStream,
} from './message-stream.js';
export {
  signMessage,
  signMessageFile,
  signStream,
  timestampCallback,
  type SignFormat,
  type SmimeSignOptions,
  type TimestampSource,
} from './sign.js';
export { encryptMessage, encryptMessageFile, encryptStream, type SmimeEncryptOptions } from './encrypt.js';
export { sendReadyFile, sendReadyMessage, type SendReadyOptions } from './send-ready.js';
export { SmimeDecryptError, decryptMessage, restoreMessage, type SmimeDecryption } from './decrypt.js';
export {
  fromAddress,
  openMessage,
  verifyMessage,
  type OpenedMessage,
  type SmimeLayer,
  type SmimeVerifyOptions,
} from './verify.js';
export {
  decryptMessageFile,
  openMessageFile,
  verifyMessageFile,
  type OpenedMessageFile,
  type SmimeFileDecryption,
} from './message-file.js';
export { VERDICT_SUMMARY, type SignerReport, type SmimeVerdict, type SmimeVerification } from './result.js';
