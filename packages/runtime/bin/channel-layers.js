#!/usr/bin/env node
// The `channel-layers` command. A committed file rather than dist/cli.js itself, so that installing
// the workspace (where dist/ is not built) can link the bin without a warning.
import "../dist/cli.js";
