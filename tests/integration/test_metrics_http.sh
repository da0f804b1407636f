#!/usr/bin/env bash
# HTTP-based metric sources on loopback: NSQ against a double serving recorded nsqd /stats bodies
# of both shapes (nsqd is not packaged), the generic HTTP source with a path into a JSON document,
# and Prometheus (the Debian package) scraping a small exporter (the same double). Readings,
# scaling through Queue and Threshold rules, and the missing-metric fallback.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/metrics_lib.sh"
T=$(mktemp -d /tmp/mss-mhttp.XXXXXX)
on_exit "rm -rf $T"
mkdir -p "$T/www"
put() { printf '%s' "$2" >"$T/www/.$1.tmp" && mv "$T/www/.$1.tmp" "$T/www/$1"; }

# nsqd 0.3 (wrapped, as the Go program read it) and 1.x (unwrapped).
put stats '{"status_code":200,"status_txt":"OK","data":{"version":"0.3.8","health":"OK","start_time":1461600000,"topics":[{"topic_name":"microscaling-demo","channels":[{"channel_name":"microscaling-demo","depth":123,"backend_depth":0,"in_flight_count":0,"deferred_count":0,"message_count":500,"requeue_count":0,"timeout_count":0,"clients":[],"paused":false,"e2e_processing_latency":{"count":0,"percentiles":null}}],"depth":0,"backend_depth":0,"message_count":500,"paused":false,"e2e_processing_latency":{"count":0,"percentiles":null}}]}}'
put queue '{"data":{"items":[{"depth":1},{"depth":0}]}}'
put metrics '# TYPE mss_test_queue_depth gauge
mss_test_queue_depth 42
'
python3 "$DOUBLE" --dir "$T/www" >"$T/double.port" 2>"$T/double.log" &
DOUBLE_PID=$!
on_exit "kill_wait $DOUBLE_PID"
wait_for 5 test -s "$T/double.port"
DPORT=$(cat "$T/double.port")
PPORT=$(free_port)
cat >"$T/prom.yml" <<YML
global: {scrape_interval: 1s, evaluation_interval: 1s}
scrape_configs:
  - job_name: exporter
    static_configs: [{targets: ['127.0.0.1:$DPORT']}]
YML
prometheus --config.file="$T/prom.yml" --web.listen-address="127.0.0.1:$PPORT" \
	--storage.tsdb.path="$T/prom-data" --log.level=warn >"$T/prom.log" 2>&1 &
PROM_PID=$!
on_exit "kill_wait $PROM_PID"

cat >"$T/apps.json" <<JSON
{"version": 2, "maxContainers": 14, "apps": [
 {"name": "nsq", "priority": 1, "minContainers": 1, "maxContainers": 6,
  "ruleType": "Queue", "metricType": "NSQ",
  "config": {"targetQueueLength": 10, "topicName": "microscaling-demo",
             "channelName": "microscaling-demo", "endpoint": "127.0.0.1:$DPORT"}},
 {"name": "json", "priority": 2, "minContainers": 0, "maxContainers": 4,
  "ruleType": "SimpleQueue", "metricType": "HTTP",
  "config": {"targetQueueLength": 10, "url": "http://127.0.0.1:$DPORT/queue",
             "valuePath": "data.items.1.depth"},
  "policy": {"maxAge": "1s", "onMissing": {"fallback": 2}}},
 {"name": "prom", "priority": 3, "minContainers": 0, "maxContainers": 4,
  "ruleType": "Threshold", "metricType": "Prometheus",
  "config": {"query": "sum(mss_test_queue_depth)", "endpoint": "http://127.0.0.1:$PPORT"},
  "threshold": {"upper": 30, "lower": 5, "upStep": 2, "cooldown": "500ms"}}
]}
JSON
start_metrics_agent "$T/agent.log" "$T/apps.json"

check "NSQ: the wrapped /stats shape is read" wait_value "$T/agent.log" nsq 123 5
check "NSQ: the consumer scales up with the channel depth" wait_demand "$T/agent.log" nsq -ge 2 5
put stats '{"version":"1.2.1","health":"OK","start_time":1600000000,"topics":[{"topic_name":"microscaling-demo","channels":[{"channel_name":"other","depth":7},{"channel_name":"microscaling-demo","depth":41,"backend_depth":40,"in_flight_count":1,"clients":[],"paused":false}],"depth":0,"message_count":9}],"memory":{"heap_objects":10},"producers":[]}'
check "NSQ: the unwrapped /stats shape is read" wait_value "$T/agent.log" nsq 41 5
check "HTTP: the number at data.items.1.depth is read" wait_value "$T/agent.log" json 0 5
check "Prometheus: the query's single sample is read" wait_value "$T/agent.log" prom 42 20
check "Threshold: above the upper bound the task steps up" wait_demand "$T/agent.log" prom -ge 2 5
check "a Threshold step logs the reading and the bound" \
	grep -q 'msg=scale task=prom from=[0-9]* to=[0-9]* reason="metric 42 above upper threshold 30' "$T/agent.log"

# --- failures -------------------------------------------------------------------------------
rm "$T/www/queue"
check "HTTP: a 404 fails the read" wait_for 5 grep -q 'msg="read failed" task=json type=HTTP error="GET http://127.0.0.1:[0-9]*/queue: 404' "$T/agent.log"
check "HTTP: once stale, onMissing fallback sets 2" wait_demand "$T/agent.log" json -eq 2 5
check "the fallback is the logged reason" grep -q 'msg=scale task=json from=0 to=2 reason="metric missing: going to fallback"' "$T/agent.log"
held=$(demand_of "$T/agent.log" nsq)
put stats '{"topics":[]}'
check "NSQ: a topic that is gone fails the read, naming it" wait_for 5 grep -q "msg=\"read failed\" task=nsq .*topic 'microscaling-demo' not found" "$T/agent.log"
sleep 1
check "NSQ: the consumer holds ($held) with no maxAge set" [ "$(demand_of "$T/agent.log" nsq)" = "$held" ]
put metrics '# nothing exported now
'
check "Prometheus: a series gone stale fails the read (0 samples)" wait_for 10 grep -q 'msg="read failed" task=prom .*returned 0 samples' "$T/agent.log"
stop_agent
check "the agent drains and exits 0" [ "$EXIT_STATUS" -eq 0 ]
finish
