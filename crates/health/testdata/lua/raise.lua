-- A script that raises its own error.
hs = {}
if obj.status == nil then
  error("widget has no status yet")
end
hs.status = "Healthy"
return hs
