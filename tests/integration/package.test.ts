import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';

// The package as a user installs it: packed, installed into an empty project from the tarball
// (offline: its dependencies from npm's cache, which npm ci filled), `npx lab` runs and the API
// type-checks with tsc.

test('npm pack yields a package that installs offline, runs npx lab and type-checks the API', (t) => {
  const root = process.cwd();
  const packed = mkdtempSync(join(tmpdir(), 'podlab-pack-'));
  // --ignore-scripts: dist/ is built already (npm test builds first); rebuilding it now would pull it
  // from under the tests running beside this one.
  execFileSync('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', packed], {
    cwd: root,
    stdio: 'pipe',
  });
  const tarball = join(packed, readdirSync(packed).find((f) => f.endsWith('.tgz'))!);

  // Offline, npm knows no version ranges (those are the registry's): the user's lockfile pins
  // podlab's dependencies exactly as podlab's own lockfile does, so each comes from npm's cache by
  // its integrity, and `npm ci --offline` fetches nothing.
  const project = mkdtempSync(join(tmpdir(), 'podlab-user-'));
  const own = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as Record<string, unknown>;
  const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, { dev?: boolean }>;
  };
  const dependencies = { podlab: `file:${tarball}` };
  writeFileSync(
    join(project, 'package.json'),
    JSON.stringify({ name: 'user', private: true, type: 'module', dependencies }),
  );
  writeFileSync(
    join(project, 'package-lock.json'),
    JSON.stringify({
      name: 'user',
      lockfileVersion: 3,
      requires: true,
      packages: {
        '': { name: 'user', dependencies },
        'node_modules/podlab': {
          version: own.version,
          resolved: `file:${tarball}`,
          dependencies: own.dependencies,
          bin: own.bin,
          engines: own.engines,
        },
        ...Object.fromEntries(
          Object.entries(lock.packages).filter(
            ([path, entry]) => path.startsWith('node_modules/') && !entry.dev,
          ),
        ),
      },
    }),
  );
  execFileSync('npm', ['ci', '--offline', '--no-audit', '--no-fund', '--silent'], {
    cwd: project,
    stdio: 'pipe',
  });

  const help = execFileSync('npx', ['--offline', 'lab', '--help'], { cwd: project, encoding: 'utf8' });
  t.regex(help, /Usage: lab/);
  const valid = execFileSync(
    'npx',
    ['--offline', 'lab', 'validate', '-f', 'node_modules/podlab/lab.example.yaml'],
    {
      cwd: project,
      encoding: 'utf8',
    },
  );
  t.regex(valid, /valid: lab demo, 3 nodes/);

  writeFileSync(
    join(project, 'lab.test.ts'),
    `import { Lab, type LabStatus, type TestReport } from 'podlab';

export async function check(): Promise<number> {
  await using lab = await Lab.up({ file: 'lab.yaml', name: 'mine' });
  const r = await lab.exec('bar/client', ['curl', '-s', 'foo']);
  const report: TestReport = await lab.test({ only: ['pod-to-service'] });
  const status: LabStatus | { up: false } = await lab.status();
  const url: string = await lab.serviceUrl('bar/foo', 'http');
  return r.exitCode + report.failed + (status.up ? 0 : 1) + url.length;
}
`,
  );
  writeFileSync(
    join(project, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        target: 'ES2022',
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        lib: ['ES2022', 'ESNext.Disposable'],
        strict: true,
        skipLibCheck: true,
        types: [],
        outDir: 'out',
      },
      files: ['lab.test.ts'],
    }),
  );
  execFileSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', project], {
    cwd: project,
    stdio: 'pipe',
  });
  const loaded = execFileSync(
    process.execPath,
    ['-e', "import('podlab').then((m) => console.log(typeof m.Lab.up, typeof m.Lab.attach))"],
    {
      cwd: project,
      encoding: 'utf8',
    },
  );
  t.is(loaded.trim(), 'function function');
});
