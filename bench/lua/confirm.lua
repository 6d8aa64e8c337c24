-- The payout confirm (R4) as the browser sends it: an htmx POST of the review form with the
-- session cookie, its CSRF token and a fresh request key, one fresh order per request.
-- wrk ... -s confirm.lua URL -- ACCOUNTS_FILE POOLS_FILE NTHREADS NONCE
-- ACCOUNTS_FILE lines: cookie <TAB> csrf token <TAB> pool name; POOLS_FILE lines: name <TAB> order-number prefix <TAB> first index
package.path = package.path .. ";" .. string.match(debug.getinfo(1, "S").source, "^@(.*/)") .. "?.lua"
require("common")

local accounts, pools = {}, {}
local nthreads, nonce, counter = 1, "00000000", 0

local function split(line)
  local out = {}
  for part in string.gmatch(line, "[^\t]+") do table.insert(out, part) end
  return out
end

function init(args)
  for line in io.lines(args[2]) do
    local p = split(line)
    if #p == 3 then pools[p[1]] = {prefix = p[2], start = tonumber(p[3]), n = 0} end
  end
  for line in io.lines(args[1]) do
    local a = split(line)
    if #a == 3 then table.insert(accounts, {cookie = a[1], csrf = a[2], pool = pools[a[3]]}) end
  end
  nthreads = tonumber(args[3])
  nonce = args[4]
end

function request()
  counter = counter + 1
  local a = accounts[((counter + tid) % #accounts) + 1]
  local pool = a.pool
  local index = pool.start + tid + nthreads * pool.n
  pool.n = pool.n + 1
  local order_no = pool.prefix .. string.format("%014d", index)
  local key = string.format("beecbeec%s%04x%012x", nonce, tid, counter)
  local body = "csrf_token=" .. a.csrf .. "&mode=page&amount=1.00&reason=shipping_fee&note=&request_key=" .. key
  return wrk.format("POST", "/orders/" .. order_no .. "/payouts", {
    ["Cookie"] = a.cookie, ["Content-Type"] = "application/x-www-form-urlencoded", ["HX-Request"] = "true",
    ["User-Agent"] = "afterdesk-bench"}, body)
end

function response(status, _, body)
  check(status, body, 'class="result"')
end
