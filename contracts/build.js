#!/usr/bin/env node
// Compiles contracts/src with the pinned solc (npm "solc", see package.json) through the standard JSON interface and
// writes one artifact per deployable contract to src/ChainMargin.Contracts/Artifacts/<Name>.json, where the .NET
// project embeds them. Output is deterministic (sorted sources, fixed settings, stable key order), so
// `node build.js --check` can compare the committed artifacts with a fresh compile and exit non-zero on any drift.
'use strict';

const fs = require('fs');
const path = require('path');
const solc = require('solc');

const SOURCE_DIR = path.join(__dirname, 'src');
const OUT_DIR = path.join(__dirname, '..', 'src', 'ChainMargin.Contracts', 'Artifacts');
const EXPECTED_COMPILER = '0.8.37';

const SETTINGS = {
  optimizer: { enabled: true, runs: 200 },
  evmVersion: 'paris',
  outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object', 'evm.deployedBytecode.object'] } },
};

function listSources(dir) {
  const found = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) found.push(...listSources(full));
    else if (entry.name.endsWith('.sol')) found.push(full);
  }
  return found;
}

function compile() {
  const version = solc.version();
  if (!version.startsWith(EXPECTED_COMPILER + '+')) {
    throw new Error(`expected solc ${EXPECTED_COMPILER}, found ${version}: run 'npm ci' in contracts/`);
  }

  // Source unit names are repository-relative with forward slashes so the metadata hash in the bytecode does not
  // depend on where the checkout lives or on the OS.
  const sources = {};
  for (const file of listSources(SOURCE_DIR).sort()) {
    const unit = 'src/' + path.relative(SOURCE_DIR, file).split(path.sep).join('/');
    sources[unit] = { content: fs.readFileSync(file, 'utf8').replace(/\r\n/g, '\n') };
  }

  const input = { language: 'Solidity', sources, settings: SETTINGS };
  const output = JSON.parse(solc.compile(JSON.stringify(input), {
    import: (p) => ({ error: `import ${p} is outside contracts/src` }),
  }));

  const errors = (output.errors || []).filter((e) => e.severity === 'error');
  for (const e of output.errors || []) process.stderr.write((e.formattedMessage || e.message) + '\n');
  if (errors.length > 0) throw new Error(`${errors.length} compile error(s)`);

  const artifacts = new Map();
  for (const unit of Object.keys(output.contracts).sort()) {
    for (const name of Object.keys(output.contracts[unit]).sort()) {
      const c = output.contracts[unit][name];
      // Interfaces and abstract contracts have no bytecode; the .NET side has typed definitions for what it needs.
      if (!c.evm.bytecode.object) continue;
      if (artifacts.has(name)) throw new Error(`two deployable contracts are named ${name}`);
      const artifact = {
        contractName: name,
        sourceName: unit,
        compiler: version,
        evmVersion: SETTINGS.evmVersion,
        optimizerRuns: SETTINGS.optimizer.runs,
        abi: c.abi,
        bytecode: '0x' + c.evm.bytecode.object,
        deployedBytecode: '0x' + c.evm.deployedBytecode.object,
      };
      artifacts.set(name + '.json', JSON.stringify(artifact, null, 2) + '\n');
    }
  }
  return artifacts;
}

function main() {
  const check = process.argv.includes('--check');
  const artifacts = compile();
  const existing = fs.existsSync(OUT_DIR) ? fs.readdirSync(OUT_DIR).filter((f) => f.endsWith('.json')).sort() : [];

  if (check) {
    const drift = [];
    for (const [file, text] of artifacts) {
      const target = path.join(OUT_DIR, file);
      if (!fs.existsSync(target)) drift.push(`missing ${file}`);
      else if (fs.readFileSync(target, 'utf8') !== text) drift.push(`differs ${file}`);
    }
    for (const file of existing) if (!artifacts.has(file)) drift.push(`stale ${file}`);
    if (drift.length > 0) {
      process.stderr.write(`artifacts differ from contracts/src (run 'npm run build' in contracts/):\n  ${drift.join('\n  ')}\n`);
      process.exit(1);
    }
    process.stdout.write(`artifacts up to date (${artifacts.size} contracts)\n`);
    return;
  }

  fs.mkdirSync(OUT_DIR, { recursive: true });
  for (const file of existing) if (!artifacts.has(file)) fs.unlinkSync(path.join(OUT_DIR, file));
  for (const [file, text] of artifacts) fs.writeFileSync(path.join(OUT_DIR, file), text);
  process.stdout.write(`wrote ${artifacts.size} artifacts to ${path.relative(process.cwd(), OUT_DIR) || '.'}\n`);
}

try {
  main();
} catch (e) {
  process.stderr.write(`build failed: ${e.message}\n`);
  process.exit(2);
}
