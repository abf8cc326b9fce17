# The Helm chart (deploy/helm/netvol) and its tests (tests/helm): `make
# test-helm` lints and renders the chart with the real helm, validates every
# object against the Kubernetes schemas, checks the TLS material with openssl
# and the Secret reuse through lookup. Tools: scripts/deps.d/chart.sh.
TEST_TARGETS += test-helm

.PHONY: test-helm
test-helm:
	@tests/helm/run.sh
