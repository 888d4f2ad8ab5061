
/*
 * Copyright (C) ngx_http_moa_module authors
 */


/*
 * The version of everything in this repository, in this one place: the
 * module, the command line tools (--version, User-Agent) and the Debian
 * packages (debian/rules refuses to build when debian/changelog's top
 * entry says another version).  Read by the build with:
 *     sed -n 's/^#define NGX_HTTP_MOA_VERSION *"\(.*\)"$/\1/p'
 */

#ifndef _NGX_HTTP_MOA_VERSION_H_INCLUDED_
#define _NGX_HTTP_MOA_VERSION_H_INCLUDED_


#define NGX_HTTP_MOA_VERSION "0.1.0"


#endif /* _NGX_HTTP_MOA_VERSION_H_INCLUDED_ */
