// Loaded before every test file: @peculiar/asn1-schema decorators need reflect-free metadata only,
// so nothing global is required today; keep this hook for shared test-wide settings.
process.env.SEALPOST_LOG_LEVEL ??= 'silent';
