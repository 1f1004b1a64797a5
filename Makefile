# pushbind — the commands people type. CMake and CTest do the work underneath.
BUILD_TYPE ?= RelWithDebInfo
PREFIX ?= /usr/local
JOBS ?= $(shell nproc)
MAKEFLAGS += --no-print-directory

.PHONY: all build deps test test-asan soak-redis soak-postgres test-partition fuzz fuzz-smoke run install bench deb test-deb image test-image fleet fleet-down test-fleet clean

all: build

deps:
	@scripts/deps.sh

build: deps
	@cmake -S . -B build -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) >/dev/null
	@cmake --build build -j $(JOBS)

# Unit tests and black-box tests against build/pushbind. A test that fails is run once
# more (RETRIES), and its failure is printed either way: on a loaded two-core machine a
# PostgreSQL backend can take longer to start than the 2 s a connection has to open, and
# a request waiting for it fails (1008004), which is a known flake, not a pass; RETRIES=1
# runs each test once.
RETRIES ?= 2
test: build
	cd build && ctest --output-on-failure -j $(JOBS) -LE partition --repeat until-pass:$(RETRIES)

# The same suite built with AddressSanitizer and UndefinedBehaviorSanitizer.
test-asan: deps
	@cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DPB_SANITIZE=ON >/dev/null
	@cmake --build build-asan -j $(JOBS)
	cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 LSAN_OPTIONS=suppressions=$(CURDIR)/test/lsan.supp:print_suppressions=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		ctest --output-on-failure -j $(JOBS) -LE 'soak|partition' --repeat until-pass:$(RETRIES)

# The Redis failover soak (test/soak/test_redis_failover.py, ~25 s), on its own; `make test`
# runs it too, alone (RUN_SERIAL). The ASan suite leaves it out: its bounds are times.
soak-redis: build
	cd build && ctest -R '^soak_redis' --output-on-failure

# The PostgreSQL failover soak (test/soak/test_postgres_failover.py: a primary + synchronous
# standby and Patroni + etcd, started by the test itself, ~2 min), on its own; `make test`
# runs it too, alone.
soak-postgres: build
	cd build && ctest -R '^soak_postgres' --output-on-failure

# The partition suites (test/soak/test_*_partition.py, ~2 min, as root): servers on
# loopback addresses of their own, links between them cut and healed with iptables
# rules of the test's own; every acknowledged write read back. Not in `make test`.
test-partition: build
	@scripts/deps.sh partition
	cd build && ctest -L partition --output-on-failure

# libFuzzer targets (fuzz/), built with clang, ASan and UBSan; each runs
# FUZZ_SECONDS. fuzz-smoke is the short run CI does.
FUZZ_SECONDS ?= 60
fuzz: deps
	@CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPB_FUZZ=ON >/dev/null
	@cmake --build build-fuzz -j $(JOBS) --target fuzz_targets
	@scripts/fuzz.sh $(FUZZ_SECONDS)

fuzz-smoke:
	@$(MAKE) fuzz FUZZ_SECONDS=5

# Starts the service on 127.0.0.1:8080 with ./data and a demo app.
run: build
	@scripts/run-demo.sh

# The binary, the systemd unit, the config file (kept when present) and docs
# under PREFIX; DESTDIR stages them for a package.
install: build
	DESTDIR=$(DESTDIR) cmake --install build --prefix $(PREFIX)

# pushbind against nginx and Redis on this machine; see docs/performance.md.
bench:
	@scripts/deps.sh bench
	@cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build build-bench -j $(JOBS) --target pushbind bench_load bench_tags latency_proxy
	@python3 bench/bench.py
	@echo "bench: pushbind on Redis and on a 3-primary cluster across a delayed link and on loopback"
	@{ echo; echo '## Redis across a link and on loopback (bench/redis_link.py)'; echo; \
	  PB_BENCH_BUILD=build-bench python3 bench/redis_link.py; } | tee -a bench/results/latest.md
	@echo "bench: pushbind on PostgreSQL with a synchronous standby across a delayed link, against pgbench"
	@{ echo; echo '## PostgreSQL across a link and on loopback (bench/postgres_link.py)'; echo; \
	  PB_BENCH_BUILD=build-bench python3 bench/postgres_link.py; } | tee -a bench/results/latest.md
	@echo "bench: two pushbind processes on a 3-primary Redis Cluster against two on the embedded store"
	@{ echo; echo '## Redis Cluster against the embedded store (bench/redis_cluster.sh)'; echo; echo '```'; \
	  DURATION=5 PUSHBIND_BIN=build-bench/pushbind bench/redis_cluster.sh; echo '```'; } | tee -a bench/results/latest.md
	@echo "bench: bulk import of 1M bindings against redis-cli --pipe (10M: scripts/bench-import-redis.sh)"
	@{ echo; echo '## Bulk import against redis-cli --pipe, 1M bindings (scripts/bench-import-redis.sh 1000000 3)'; \
	  echo; echo '```'; PUSHBIND_BIN=build-bench/pushbind REDIS_PORT=31020 scripts/bench-import-redis.sh 1000000 3; \
	  echo '```'; } | tee -a bench/results/latest.md

# The Debian package from debian/, into build-deb/ (the parent directory,
# dpkg-buildpackage's default, stays untouched), then lintian on it: errors and
# warnings fail, those accepted are explained in debian/pushbind.lintian-overrides.
# The build runs in obj-*/ and is cleaned away afterwards; build/ is not used.
deb:
	@scripts/deps.sh deb
	@rm -rf build-deb && mkdir build-deb
	@v=$$(dpkg-parsechangelog -S Version) a=$$(dpkg-architecture -qDEB_HOST_ARCH); \
	  PB_DEB_DESTDIR=$(CURDIR)/build-deb dpkg-buildpackage -b -us -uc -j$(JOBS) \
	    --buildinfo-option=-ubuild-deb --buildinfo-file=build-deb/pushbind_$${v}_$${a}.buildinfo \
	    --changes-option=-ubuild-deb --changes-file=build-deb/pushbind_$${v}_$${a}.changes
	@debian/rules clean >/dev/null 2>&1
	lintian --fail-on error,warning --display-info build-deb/pushbind_*.changes

# Installs build-deb/pushbind_*.deb on this machine (as root), runs the
# installed binary, removes and purges the package: see test/package/test_deb.py.
test-deb: deb
	PYTHONDONTWRITEBYTECODE=1 /usr/bin/python3 test/package/test_deb.py -v

# The container image localhost/pushbind:latest (rootful podman): a Debian 12
# base made with mmdebstrap (cached in build-image/ for the day), the runtime
# libraries from Debian, build/pushbind; see scripts/image.sh and
# docs/operations.md#container-image.
image: build
	@scripts/deps.sh image
	@scripts/image.sh

# Runs the image on a volume, serves, stops and starts it, and removes all it
# made: see test/package/test_image.py.
test-image: image
	PYTHONDONTWRITEBYTECODE=1 /usr/bin/python3 test/package/test_image.py -v

# pushbind's fleet under rootful podman on 127.0.0.1:8090 (FLEET_PORT): two
# replicas behind HAProxy on PostgreSQL with a synchronous standby, from
# packaging/fleet/pushbind-fleet.yaml, the demo app created; prints a working
# curl. fleet-down removes all of it. See docs/operations.md#a-fleet-in-one-command.
fleet: image
	@scripts/deps.sh fleet
	@scripts/fleet.sh up

fleet-down:
	@scripts/fleet.sh down

# Starts a fleet of its own, binds through one replica and reads through the
# other, kills one and keeps answering through the balancer, removes the
# fleet: see test/package/test_fleet.py.
test-fleet: image
	@scripts/deps.sh fleet
	PYTHONDONTWRITEBYTECODE=1 /usr/bin/python3 test/package/test_fleet.py -v

clean:
	rm -rf build build-asan build-fuzz build-bench build-deb build-image build-fleet

