# Renders the service alarms for tests/terraform/test_alarms.py, which runs this file with
# `terraform test -json -verbose` and evaluates each alarm on recorded metric values.

mock_provider "aws" {
  mock_data "aws_partition" {
    defaults = { partition = "aws", dns_suffix = "amazonaws.com" }
  }
  mock_data "aws_caller_identity" {
    defaults = { account_id = "111122223333" }
  }
}

run "rendered_alarms" {
  command = apply

  variables {
    name               = "ca-alarms"
    regions            = ["eu-west-1", "us-west-2"]
    create_alarm_topic = true
    alarm_thresholds   = { estimates_hours = 2, scheduler_lag_minutes = 10 }
  }

  assert {
    condition     = length(aws_cloudwatch_metric_alarm.service) == 2 * 2 + 4 && length(aws_cloudwatch_metric_alarm.insights) == 2
    error_message = "one high-carbon and one renewable alarm per Region, four service and two Insights alarms"
  }

  assert {
    condition     = alltrue([for a in aws_cloudwatch_metric_alarm.service : a.alarm_actions == toset([aws_sns_topic.alarms[0].arn])])
    error_message = "every service alarm notifies the alarm topic"
  }
}

# A carbon-efficiency target high enough for both burn-rate pairs (from 93.1 %): the alarms
# tests/runtime/test_oracle.py evaluates on the grams the sweep emits.
run "carbon_efficiency_alarms" {
  command = apply

  variables {
    name               = "ca-alarms"
    regions            = ["eu-west-1"]
    create_alarm_topic = true
    slo_targets        = { carbon_efficiency = 0.95 }
  }

  assert {
    condition     = length([for k, _ in aws_cloudwatch_composite_alarm.slo : k if startswith(k, "carbon-efficiency")]) == 2
    error_message = "a 95 % carbon-efficiency target gets the fast and the slow burn-rate pair"
  }
}
