# The boundary rule of DESIGN.md section 2, checked at configure time.
#
# Every first-party target declares its domain with ta_domain(TARGET DOMAIN):
#   shared  - proto, journal: may be linked by anyone
#   gate    - trading-gate and its libraries, tradectl
#   agent   - trading-agent and its libraries
#   tool    - trading-backtest: the only target allowed to link gate and agent
# ta_check_boundaries() walks every declared target's link libraries
# (transitively) and stops the configure with FATAL_ERROR when a gate target
# reaches an agent target or the reverse, or when a shared target reaches
# either core.
set_property(GLOBAL PROPERTY TA_DOMAIN_TARGETS "")

function(ta_domain target domain)
  set_property(TARGET ${target} PROPERTY TA_DOMAIN ${domain})
  set_property(GLOBAL APPEND PROPERTY TA_DOMAIN_TARGETS ${target})
endfunction()

function(_ta_collect_links target out_var)
  set(seen "")
  set(queue ${target})
  while(queue)
    list(POP_FRONT queue current)
    if(NOT TARGET ${current})
      continue()
    endif()
    get_target_property(aliased ${current} ALIASED_TARGET)
    if(aliased)
      set(current ${aliased})
    endif()
    if(current IN_LIST seen)
      continue()
    endif()
    list(APPEND seen ${current})
    get_target_property(libs ${current} LINK_LIBRARIES)
    get_target_property(ilibs ${current} INTERFACE_LINK_LIBRARIES)
    foreach(lib IN LISTS libs ilibs)
      if(lib AND NOT lib MATCHES "NOTFOUND$" AND TARGET ${lib})
        list(APPEND queue ${lib})
      endif()
    endforeach()
  endwhile()
  list(REMOVE_ITEM seen ${target})
  set(${out_var} ${seen} PARENT_SCOPE)
endfunction()

function(ta_check_boundaries)
  get_property(targets GLOBAL PROPERTY TA_DOMAIN_TARGETS)
  set(violations "")
  foreach(t IN LISTS targets)
    get_target_property(domain ${t} TA_DOMAIN)
    if(domain STREQUAL "tool")
      continue()
    endif()
    _ta_collect_links(${t} deps)
    foreach(d IN LISTS deps)
      get_target_property(ddomain ${d} TA_DOMAIN)
      if(NOT ddomain OR ddomain STREQUAL "ddomain-NOTFOUND" OR ddomain STREQUAL "shared")
        continue()
      endif()
      if(NOT ddomain STREQUAL domain)
        list(APPEND violations "${t} (${domain}) links ${d} (${ddomain})")
      endif()
    endforeach()
  endforeach()
  if(violations)
    list(JOIN violations "\n  " msg)
    message(FATAL_ERROR "Boundary rule broken (DESIGN.md section 2):\n  ${msg}")
  endif()
endfunction()
