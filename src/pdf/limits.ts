/**
 * Bounds on every parse step, so that a hostile file costs bounded time and memory. The defaults read
 * any real-world PDF we have seen; callers may raise them for unusual documents.
 */
export interface PdfLimits {
  /** Nesting of arrays and dictionaries inside one object. */
  maxNestingDepth: number;
  /** Size of one object's text (excluding stream data) and of one xref table section. */
  maxObjectBytes: number;
  /** Size of one string token after unescaping. */
  maxStringBytes: number;
  /** Size of one stream's data after all filters. */
  maxDecodedStreamBytes: number;
  /** Output/input ratio allowed to a decompressing filter once its output passes 1 MiB. */
  maxDecompressionRatio: number;
  /** Largest object number accepted (ISO 32000-2 Annex C suggests 8,388,607). */
  maxObjectNumber: number;
  /** Number of xref sections in the /Prev chain. */
  maxXrefSections: number;
  /** Number of objects in one object stream. */
  maxObjectStreamObjects: number;
  /** Length of a reference chain (a reference that resolves to a reference …). */
  maxReferenceChain: number;
  /** Pages in the page tree and its depth. */
  maxPages: number;
  maxTreeDepth: number;
  /** Number of AcroForm fields. */
  maxFields: number;
  /** Parsed objects kept in memory per document. */
  objectCacheSize: number;
}

export const DEFAULT_PDF_LIMITS: Readonly<PdfLimits> = Object.freeze({
  maxNestingDepth: 64,
  maxObjectBytes: 64 * 1024 * 1024,
  maxStringBytes: 32 * 1024 * 1024,
  maxDecodedStreamBytes: 256 * 1024 * 1024,
  maxDecompressionRatio: 1000,
  maxObjectNumber: 8_388_607,
  maxXrefSections: 10_000,
  maxObjectStreamObjects: 1_000_000,
  maxReferenceChain: 32,
  maxPages: 1_000_000,
  maxTreeDepth: 64,
  maxFields: 100_000,
  objectCacheSize: 20_000,
});

export function resolveLimits(overrides?: Partial<PdfLimits>): PdfLimits {
  return { ...DEFAULT_PDF_LIMITS, ...overrides };
}
