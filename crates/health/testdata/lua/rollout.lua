-- Health of an Argo Rollouts-style progressive rollout. Uses `goto continue`, which LuaJIT and
-- gopher-lua both accept.
hs = {}
if obj.spec ~= nil and obj.spec.paused == true then
  hs.status = "Suspended"
  hs.message = "Rollout is paused"
  return hs
end
if obj.status == nil or obj.status.observedGeneration == nil
    or obj.status.observedGeneration < (obj.metadata.generation or 0) then
  hs.status = "Progressing"
  hs.message = "Waiting for rollout spec update to be observed"
  return hs
end
for _, condition in ipairs(obj.status.conditions or {}) do
  if condition.type ~= "Progressing" then
    goto continue
  end
  if condition.reason == "ProgressDeadlineExceeded" or condition.reason == "RolloutAborted" then
    hs.status = "Degraded"
    hs.message = condition.message
    return hs
  end
  ::continue::
end
if obj.status.pauseConditions ~= nil and #obj.status.pauseConditions > 0 then
  hs.status = "Suspended"
  hs.message = "Rollout is paused: " .. obj.status.pauseConditions[1].reason
  return hs
end
local replicas = 1
if obj.spec.replicas ~= nil then
  replicas = obj.spec.replicas
end
local updated = obj.status.updatedReplicas or 0
local available = obj.status.availableReplicas or 0
if updated < replicas then
  hs.status = "Progressing"
  hs.message = string.format("Waiting for roll out to finish: %d out of %d new replicas have been updated...", updated, replicas)
  return hs
end
if available < updated then
  hs.status = "Progressing"
  hs.message = "Waiting for roll out to finish: " .. available .. " of " .. updated .. " updated replicas are available..."
  return hs
end
hs.status = "Healthy"
hs.message = ""
return hs
