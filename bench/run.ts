// `npm run bench [name…]`: runs every benchmark in bench/ (or the named ones), one after another.
const BENCHES: Record<string, () => Promise<unknown>> = {
  'ca-issuance': () => import('./ca-issuance.js').then((m) => m.main()),
  'pki-http': () => import('./pki-http.js').then((m) => m.main()),
  smime: () => import('./smime.js').then((m) => m.main()),
  'pdf-crypt': () => import('./pdf-crypt.js').then((m) => m.main()),
  pdf: () => import('./pdf.js').then((m) => m.main()),
  'pdf-validate': () => import('./pdf-validate.js').then((m) => m.main()),
};

const wanted = process.argv.slice(2);
for (const name of wanted) {
  if (!BENCHES[name]) {
    console.error(`unknown benchmark "${name}"; choose from ${Object.keys(BENCHES).join(', ')}`);
    process.exit(2);
  }
}
for (const [name, bench] of Object.entries(BENCHES)) {
  if (wanted.length && !wanted.includes(name)) continue;
  await bench();
}
