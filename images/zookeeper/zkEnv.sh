# shellcheck shell=bash disable=SC2034 # the variables are read by the scripts that source it
# zkEnv.sh of the zookeeper stand-in, sourced by zkServer.sh, zkCli.sh and zkCleanup.sh in
# place of Debian's /etc/zookeeper/conf/environment: the environment's settings first, then
# the official image's defaults (config in /conf, logs in /logs).
ZOOCFGDIR=${ZOOCFGDIR:-/conf}
ZOOCFG=${ZOOCFG:-$ZOOCFGDIR/zoo.cfg}
ZOO_LOG_DIR=${ZOO_LOG_DIR:-/logs}
JAVA=${JAVA_HOME:+$JAVA_HOME/bin/}java
# zookeeper.jar's manifest names its Debian dependencies; slf4j-simple sends the log to
# stderr, as the official image's console logger sends it to the container's output.
CLASSPATH="$ZOOCFGDIR:/usr/share/java/zookeeper.jar:/usr/share/java/slf4j-simple.jar${CLASSPATH:+:$CLASSPATH}"
SERVER_JVMFLAGS="-Dorg.slf4j.simpleLogger.showDateTime=true -Dorg.slf4j.simpleLogger.dateTimeFormat=yyyy-MM-dd'T'HH:mm:ss.SSSXXX ${SERVER_JVMFLAGS:-}"
