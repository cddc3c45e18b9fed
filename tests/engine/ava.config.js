// The engine tests stop and restart the Docker engine, or keep every core busy, so they run alone, after every other test
// (npm test runs `ava` and then `ava --config tests/engine/ava.config.js`).
export default {
  files: ['dist/tests/engine/**/*.test.js'],
  timeout: '5m',
  concurrency: 1,
  workerThreads: false,
};
