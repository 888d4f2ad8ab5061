-- wrk script: POST /v1/chat/completions with bodies built from the
-- Arena-Hard prompts (BENCH_PROMPTS, one JSON messages array per line),
-- model BENCH_MODEL, "stream":true when BENCH_STREAM=1. done() prints one
-- JSON line (prefix "WRKJSON ") with counts and latency percentiles in us.
-- BENCH_API=responses: the same conversations as POST /v1/responses
-- ("input": the messages, which are valid input items).
local reqs = {}
local idx = 0

function init(args)
    local path = os.getenv("BENCH_PROMPTS")
    local model = os.getenv("BENCH_MODEL") or "gpt-4o"
    local extra = ""
    if os.getenv("BENCH_STREAM") == "1" then
        extra = ',"stream":true'
    end
    local f = io.open(path or "", "r")
    if f == nil then
        io.stderr:write("chat.lua: cannot read BENCH_PROMPTS\n")
        os.exit(2)
    end
    local responses = os.getenv("BENCH_API") == "responses"
    local path = responses and "/v1/responses" or "/v1/chat/completions"
    local key = responses and '","input":' or '","messages":'
    for line in f:lines() do
        local body = '{"model":"' .. model .. key .. line .. extra .. '}'
        reqs[#reqs + 1] = wrk.format("POST", path,
            { ["Content-Type"] = "application/json" }, body)
    end
    f:close()
    -- threads start at different prompts
    math.randomseed(os.time() + (tonumber(tostring(args):match("0x(%x+)"),
                                          16) or 0) % 1000)
    idx = math.random(#reqs)
end

function request()
    idx = idx % #reqs + 1
    return reqs[idx]
end

function done(summary, latency, requests)
    local e = summary.errors
    local p = {}
    for _, q in ipairs({ 50, 75, 90, 99, 99.9 }) do
        p[#p + 1] = string.format('"p%s":%d', tostring(q):gsub("%.", "_"),
                                  latency:percentile(q))
    end
    io.write(string.format('WRKJSON {"duration_us":%d,"requests":%d,' ..
        '"bytes":%d,"err_connect":%d,"err_read":%d,"err_write":%d,' ..
        '"err_status":%d,"err_timeout":%d,"lat_min":%d,"lat_mean":%.1f,' ..
        '"lat_max":%d,"lat_stdev":%.1f,%s}\n',
        summary.duration, summary.requests, summary.bytes, e.connect,
        e.read, e.write, e.status, e.timeout, latency.min, latency.mean,
        latency.max, latency.stdev, table.concat(p, ",")))
end
