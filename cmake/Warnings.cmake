# Project-wide warning and sanitizer flags, applied per target with
# ta_target_defaults(TARGET) so third-party and generated code stay quiet.
function(ta_target_defaults target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow)
  if(TA_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()

if(TA_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()

# Boost.Asio and Beast are compiled once, in ta_asio (see proto/CMakeLists.txt),
# instead of in every translation unit that includes them.
add_compile_definitions(BOOST_ASIO_SEPARATE_COMPILATION BOOST_BEAST_SEPARATE_COMPILATION
                        BOOST_ASIO_NO_DEPRECATED)
