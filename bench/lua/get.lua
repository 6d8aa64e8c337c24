-- GET a list of paths round-robin, signed in by a cookie; htmx requests if asked.
-- wrk ... -s get.lua URL -- PATHS_FILE COOKIE_FILE HTMX(0|1) EXPECT
package.path = package.path .. ";" .. string.match(debug.getinfo(1, "S").source, "^@(.*/)") .. "?.lua"
require("common")

local paths, headers, expect = {}, {}, nil
local i = 0

function init(args)
  for line in io.lines(args[1]) do if line ~= "" then table.insert(paths, line) end end
  if args[2] ~= "-" then
    local f = io.open(args[2]); headers["Cookie"] = f:read("*l"); f:close()
  end
  if args[3] == "1" then headers["HX-Request"] = "true" end
  headers["User-Agent"] = "afterdesk-bench"
  expect = args[4] ~= "-" and args[4] or nil
  i = tid * 7919
end

function request()
  i = i + 1
  return wrk.format("GET", paths[(i % #paths) + 1], headers)
end

function response(status, _, body)
  check(status, body, expect)
end
