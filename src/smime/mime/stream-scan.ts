/**
 * Multipart boundaries in a file too large to parse in one buffer: the body is read in windows and each is
 * searched with the parser's own delimiter rule (findDelimiter: "--boundary" at a line start, optional "--",
 * transport padding, RFC 2046 §5.1.1), so the byte ranges found are those parseMime would give.
 */
import { open } from 'node:fs/promises';
import { MimeLimitError } from './errors.js';
import { findDelimiter, type Delimiter } from './parser.js';

const WINDOW = 1024 * 1024;
/** Delimiter lines longer than this (padding included) are not recognised across a window edge. */
const MAX_DELIMITER_LINE = 4096;

/**
 * The delimiter lines of a multipart body in `path` between `start` and `end` (file offsets), in order, up to
 * and including the closing one; at most `maxDelimiters` (a part-count bound against hostile input).
 */
export async function scanDelimiters(
  path: string,
  p: { start: number; end: number; boundary: string; maxDelimiters: number },
): Promise<Delimiter[]> {
  const delimiter = Buffer.from('--' + p.boundary, 'latin1');
  const found: Delimiter[] = [];
  const handle = await open(path, 'r');
  try {
    const buf = Buffer.allocUnsafe(WINDOW + MAX_DELIMITER_LINE);
    // Each window starts a little before the unsearched data, so a delimiter line cut by the previous
    // window edge (and the line break before it) is seen whole.
    let searched = p.start;
    while (searched < p.end) {
      const windowStart = Math.max(p.start, searched - MAX_DELIMITER_LINE);
      const length = Math.min(buf.length, p.end - windowStart);
      const { bytesRead } = await handle.read(buf, 0, length, windowStart);
      if (bytesRead === 0) break;
      const view = buf.subarray(0, bytesRead);
      const atEnd = windowStart + bytesRead >= p.end || bytesRead < length;
      // Delimiters starting in [searched, commitEnd) are taken from this window; later ones from the next.
      const commitEnd = atEnd ? bytesRead : bytesRead - MAX_DELIMITER_LINE;
      const bodyStart = p.start - windowStart; // negative once the body start is behind us
      let from = searched - windowStart;
      for (;;) {
        const d = findDelimiter(view, delimiter, from, bodyStart, bytesRead);
        if (!d || d.before >= commitEnd || (!atEnd && d.after >= bytesRead)) break;
        found.push({ before: d.before + windowStart, after: d.after + windowStart, closing: d.closing });
        if (found.length > p.maxDelimiters) {
          throw new MimeLimitError(
            'maxParts',
            p.maxDelimiters,
            `message has more than ${p.maxDelimiters} MIME parts; raise limits.maxParts if this mail is legitimate`,
          );
        }
        if (d.closing) return found;
        from = d.after;
      }
      if (atEnd) break;
      searched = windowStart + Math.max(commitEnd, from);
    }
    return found;
  } finally {
    await handle.close();
  }
}
