-- wrk script for scripts/compare.sh: every write carries DEPTH requests back to back
-- (pipelining); `wrk ... -s pipeline.lua URL -- DEPTH`.
init = function(args)
    local depth = tonumber(args[1]) or 16
    local one = wrk.format(nil, nil)
    local all = {}
    for i = 1, depth do all[i] = one end
    batch = table.concat(all)
end

request = function()
    return batch
end
