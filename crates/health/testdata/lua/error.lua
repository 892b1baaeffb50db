-- A broken script: indexes a field that does not exist.
hs = {}
hs.status = obj.status.nonexistent.phase
return hs
