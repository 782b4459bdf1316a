// Runs the CLI from source (through tsx) so tests need no build step.
import { main } from '../../src/cli/main.js';

process.exitCode = await main(process.argv.slice(2));
