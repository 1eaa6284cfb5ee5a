#!/usr/bin/env bash
# Installs, idempotently, the Apache Kafka broker the kafka-exporter tests, `make e2e`, `make run`
# and `make bench-kafka` run against: Kafka's jars from Maven Central (no tarball: only the package
# registries are reachable), resolved with Maven into ~/.cache/kafka/<version>/libs:
#   org.apache.kafka:kafka_2.13         the broker and KRaft controller (kafka.Kafka), StorageTool
#   org.apache.kafka:kafka-tools        the admin command-line classes (ConsumerGroupCommand, ...)
#   log4j-slf4j2-impl, log4j-core       a logging backend: Kafka logs through SLF4J and ships none
#                                       in its Maven artifacts; scripts/kafka/log4j2.yaml configures it
# A marker file makes a second run instant. Installs Debian's JRE only if `java` is missing
# (Kafka 4's broker needs Java 17 or newer) and Maven only if `mvn` is missing.
# Prints the libs directory. KAFKA_VERSION overrides the version (scripts/kafka/cluster.py reads
# the same variable).
#   usage: scripts/install-kafka.sh [--quiet]    (--quiet: print nothing but the libs directory)
set -euo pipefail

version=${KAFKA_VERSION:-4.4.0}
log4j=2.24.3
slf4j=2.0.17
dir="${XDG_CACHE_HOME:-$HOME/.cache}/kafka/$version"
libs="$dir/libs"
# The marker names everything that was resolved: a change of any version resolves again.
marker="$dir/.installed-kafka-$version-log4j-$log4j-slf4j-$slf4j"
quiet=0
case "${1:-}" in
  "") ;;
  --quiet) quiet=1 ;;
  *) echo "install-kafka: unknown argument ${1}; usage: install-kafka.sh [--quiet]" >&2; exit 64 ;;
esac
say() { [ $quiet = 1 ] || echo "install-kafka: $*" >&2; }

if [ -f "$marker" ] && [ -d "$libs" ]; then
  echo "$libs"
  exit 0
fi

# One install at a time (tests running in parallel may all call this): the others wait, then
# find the marker.
mkdir -p "$dir"
exec 9> "$dir/.lock"
flock 9
if [ -f "$marker" ] && [ -d "$libs" ]; then
  echo "$libs"
  exit 0
fi

apt_install() {
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo > /dev/null || { echo "install-kafka: need root (or sudo) to install $*" >&2; exit 1; }
    sudo=sudo
  fi
  say "installing $* (Debian)"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$@" > /dev/null
}
command -v java > /dev/null || apt_install default-jre-headless
command -v mvn > /dev/null || apt_install maven

# A throwaway pom whose only purpose is its dependency list; copy-dependencies puts the whole
# runtime closure in one flat directory, which is the broker's classpath.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat > "$work/pom.xml" << POM
<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.observability</groupId>
  <artifactId>kafka-runtime</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <!-- First, so that it wins over the 1.7 that Kafka's poms name: log4j-slf4j2-impl binds
         through SLF4J 2's service loader, which an SLF4J 1.7 API would not look for. -->
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-api</artifactId><version>$slf4j</version></dependency>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>$version</version></dependency>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka-tools</artifactId><version>$version</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j2-impl</artifactId><version>$log4j</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-core</artifactId><version>$log4j</version></dependency>
  </dependencies>
</project>
POM

say "resolving Apache Kafka $version with Maven into $libs (once)"
rm -rf "$libs.tmp"
ok=0
# A second try if the first fails (a registry hiccup); Maven keeps what it already fetched.
for attempt in 1 2; do
  if mvn -B -q -f "$work/pom.xml" dependency:copy-dependencies \
      -DincludeScope=runtime -DoutputDirectory="$libs.tmp" > "$work/mvn.log" 2>&1; then
    ok=1
    break
  fi
  say "attempt $attempt failed"
done
if [ $ok = 0 ]; then
  tail -n 30 "$work/mvn.log" >&2
  echo "install-kafka: could not resolve Apache Kafka $version from Maven Central" >&2
  exit 1
fi
[ -f "$libs.tmp/kafka_2.13-$version.jar" ] || { echo "install-kafka: no kafka_2.13-$version.jar resolved" >&2; exit 1; }
rm -rf "$libs"
mv "$libs.tmp" "$libs"
rm -f "$dir"/.installed-*
touch "$marker"
jars=("$libs"/*.jar)
say "${#jars[@]} jars"
echo "$libs"
