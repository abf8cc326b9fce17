/* hangfs - a FUSE file system that never answers: every lookup of its root
 * blocks until it is unmounted. It stands for a hung NFS mount in the tests
 * of the network-volume probe (DESIGN rule 5).
 * usage: hangfs MOUNTPOINT   (runs in the foreground; unmount with
 * fusermount3 -u -z MOUNTPOINT) */
#define FUSE_USE_VERSION 31
#include <fuse.h>
#include <pthread.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static pthread_mutex_t never = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t never_cond = PTHREAD_COND_INITIALIZER;

static int hang_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
	(void)path;
	(void)st;
	(void)fi;
	pthread_mutex_lock(&never);
	for (;;)
		pthread_cond_wait(&never_cond, &never);
	return 0;
}

static const struct fuse_operations ops = {
    .getattr = hang_getattr,
};

int main(int argc, char **argv)
{
	char *args[] = {argv[0], "-f", argc > 1 ? argv[1] : "", NULL};

	if (argc != 2)
		return 2;
	return fuse_main(3, args, &ops, NULL);
}
