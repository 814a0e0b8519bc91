// The one translation unit that compiles Boost.Beast's implementation and
// Asio's SSL support (BOOST_BEAST_SEPARATE_COMPILATION and
// BOOST_ASIO_SEPARATE_COMPILATION are set project-wide). Beast is slow to
// compile; every other file only includes its declarations.
#include <boost/asio/ssl/impl/src.hpp>
#include <boost/beast/src.hpp>
