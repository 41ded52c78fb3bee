-- Request script for wrk, driven by contrib/bench/run through the environment.
--
--   BENCH_PATH   request target: an absolute URL for forward proxies (absolute-form),
--                a path for reverse proxies and the origin itself (origin-form)
--   BENCH_HOST   Host header (the origin's host:port; wrk would send the proxy's)
--   BENCH_CLOSE  1: "Connection: close", one new connection per request
--   BENCH_KEYS   N > 0: each request asks for BENCH_PATH .. random(1..N)
--   BENCH_FILL   "FIRST LAST": the threads together ask once for every key
--                FIRST..LAST (BENCH_PATH .. key), then only for FIRST (a hit)
--                until run, watching the origin's log, stops wrk
--   BENCH_THREADS  number of wrk threads (to split the FILL range)
--   BENCH_DELAY_MS N > 0: each connection waits N ms after every response
--                (the offered load is bounded: latency below saturation)
--
-- done() prints one line that run parses:
--   BENCH requests=.. duration_us=.. bytes=.. errors=.. status=.. p50_us=.. p99_us=..

local path = os.getenv("BENCH_PATH") or "/"
local host = os.getenv("BENCH_HOST")
local keys = tonumber(os.getenv("BENCH_KEYS") or "0")
local fill = os.getenv("BENCH_FILL")
local nthreads = tonumber(os.getenv("BENCH_THREADS") or "1")

wrk.path = path
if host and host ~= "" then
	wrk.headers["Host"] = host
end
if os.getenv("BENCH_CLOSE") == "1" then
	wrk.headers["Connection"] = "close"
end

local delay_ms = tonumber(os.getenv("BENCH_DELAY_MS") or "0")
if delay_ms > 0 then
	function delay()
		return delay_ms
	end
end

-- setup() runs in the main Lua state once per thread: hand each its index.
local created = 0
function setup(thread)
	thread:set("tid", created)
	created = created + 1
end

-- Only define request() when the target changes per request: a static
-- request lets wrk build the bytes once per thread, which keeps the load
-- generator cheap (on a 2-core machine it is the bottleneck).
if keys > 0 then
	function init(args)
		math.randomseed(os.time() + (tid or 0) * 7919)
	end
	function request()
		return wrk.format(nil, path .. math.random(1, keys))
	end
elseif fill then
	local first, last = fill:match("(%d+)%s+(%d+)")
	first, last = tonumber(first), tonumber(last)
	local nextkey
	function init(args)
		nextkey = first + (tid or 0)
	end
	function request()
		local k = nextkey
		if k > last then
			-- This thread's share is done.  wrk wants a request
			-- back (thread:stop() does not end the run in wrk
			-- 4.1), so ask for a key already loaded.
			k = first
		end
		nextkey = nextkey + nthreads
		return wrk.format(nil, path .. k)
	end
end

function done(summary, latency, requests)
	local e = summary.errors
	io.write(string.format("BENCH requests=%d duration_us=%d bytes=%d " ..
	    "errors=%d status=%d p50_us=%d p99_us=%d\n",
	    summary.requests, summary.duration, summary.bytes,
	    e.connect + e.read + e.write + e.timeout, e.status,
	    latency:percentile(50), latency:percentile(99)))
end
