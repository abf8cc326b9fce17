-- wrk script: alternate a valid AdmissionReview with malformed bodies, count
-- answers by class; 5xx must stay at zero.
local valid = io.open(os.getenv("WH_REVIEW")):read("*a")
local bodies = { valid, "{not json", '{"apiVersion":"v1","kind":"Pod"}', valid,
                 '{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}' }
local i = 0
local counts = { ["2"] = 0, ["4"] = 0, ["5"] = 0, other = 0 }
request = function()
  i = i + 1
  return wrk.format("POST", "/mutate", { ["Content-Type"] = "application/json" },
                    bodies[(i % #bodies) + 1])
end
response = function(status)
  local k = tostring(status):sub(1, 1)
  counts[k] = (counts[k] or 0) + 1
end
done = function()
  -- per-thread counters are not shared in wrk; the summary's non-2xx line
  -- and the server's metrics are checked by the test instead
end
