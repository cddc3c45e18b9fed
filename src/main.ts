import { main } from './cli.js';

/** Entry point of the `lab` executable. */
process.exitCode = await main(process.argv);
