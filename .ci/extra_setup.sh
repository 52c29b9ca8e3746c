# Sourced by .ci/run before the suite: Debian's Chromium for tests/dashboard_test.ts (driven by
# playwright-core from npm, which deno install --frozen already fetched; no browser download).
if ! command -v chromium >/dev/null 2>&1; then
  echo "== installing Chromium for the dashboard browser test"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
