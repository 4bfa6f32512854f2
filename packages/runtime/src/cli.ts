#!/usr/bin/env node
// The `channel-layers` command: `serve` (Daphne's part) and `runworker` (Channels' runworker).
import { main } from "./cli/main.js";

await main(process.argv.slice(2));
