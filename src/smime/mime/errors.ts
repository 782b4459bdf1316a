/** Base class of every error the MIME layer throws: callers can catch this one class. */
export class MimeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** Input exceeds a configured bound (size, depth, part count, header size, boundary length). */
export class MimeLimitError extends MimeError {
  constructor(
    readonly limit: string,
    readonly allowed: number,
    message: string,
  ) {
    super(message);
  }
}

/** Arguments handed to a builder would produce a broken or unsafe message (header injection, bad name). */
export class MimeBuildError extends MimeError {}
