# Images and pods (issue 14): `make test-images` builds Dockerfile.init and
# Dockerfile.webhook with a private dockerd (no registry: the Debian base
# comes from debootstrap), checks both images, then runs ComfyUI pods the
# way the kubelet runs them (tests/pods/: the webhook over TLS, netvol-restore,
# the app, the preStop sync) against radosgw on loopback. Needs root.
# `make test-images-only` stops after the image checks; `make test-pods`
# runs the pods too (same as test-images). Tools: scripts/deps.d/images.txt.
TEST_TARGETS += test-images

.PHONY: test-images test-images-only test-pods
test-images:
	@tests/images/run.sh all

test-images-only:
	@tests/images/run.sh images

test-pods:
	@tests/images/run.sh pods
