################################################################################
# Alarms and dashboard
################################################################################

resource "aws_sns_topic" "alarms" {
  count = var.create_alarm_topic && var.alarm_topic_arn == null ? 1 : 0

  #checkov:skip=CKV_AWS_26:CloudWatch alarms cannot publish to a topic under the AWS managed SNS key; the topic is encrypted when var.kms_key_arn (a key CloudWatch may use) is set.
  region            = local.home_region
  name              = "${var.name}-alarms"
  kms_master_key_id = var.kms_key_arn

  tags = var.tags
}

module "dashboard" {
  source = "./modules/dashboard"

  create            = var.create_dashboard
  region            = local.home_region
  partition         = local.partition
  dashboard_name    = var.name
  function_names    = [for m in module.function : m.function_name]
  table_names       = [for t in aws_dynamodb_table.this : t.name]
  queue_names       = [for q in aws_sqs_queue.dlq : q.name]
  metrics_namespace = local.metrics_namespace

  slo_targets = {
    dispatch_availability = var.slo_targets.dispatch_availability
    carbon_efficiency     = var.slo_targets.carbon_efficiency
  }
}

################################################################################
# Service alarms on the handlers' EMF metrics (carbon_aware.runtime.service_metrics, monitor),
# each notifying the alarm topic. Metrics not emitted yet (Migrations: issues #12/#13) or only
# with a provider (RenewableSharePercent: Electricity Maps) are alarmed on by name already and
# treat missing data as not breaching.
################################################################################

locals {
  service_alarms = merge(
    { for r in var.regions : "high-carbon-${r}" => {
      description = "Average carbon intensity in ${r} above ${var.alarm_thresholds.carbon_intensity} g/kWh over an hour."
      metric      = "CarbonIntensity", dimensions = { Region = r }, statistic = "Average"
      period      = 3600, evaluation_periods = 1, comparison = "GreaterThanThreshold"
      threshold   = var.alarm_thresholds.carbon_intensity, missing = "notBreaching"
    } },
    { for r in var.regions : "low-renewable-${r}" => {
      description = "Renewable share in ${r} below ${var.alarm_thresholds.renewable_share_percent} % over an hour (where known)."
      metric      = "RenewableSharePercent", dimensions = { Region = r }, statistic = "Average"
      period      = 3600, evaluation_periods = 1, comparison = "LessThanThreshold"
      threshold   = var.alarm_thresholds.renewable_share_percent, missing = "notBreaching"
    } },
    {
      planning-on-estimates = {
        description = "Some Region planned on estimates (provider outage or bad credentials) for ${var.alarm_thresholds.estimates_hours} hours, or the monitor stopped reporting."
        metric      = "EstimatedRegions", dimensions = {}, statistic = "Minimum"
        period      = 3600, evaluation_periods = var.alarm_thresholds.estimates_hours, comparison = "GreaterThanThreshold"
        threshold   = 0, missing = "breaching"
      }
      scheduler-lag = {
        description = "The oldest due PENDING or SCHEDULED workload waited more than ${var.alarm_thresholds.scheduler_lag_minutes} minutes."
        metric      = "DueIndexLagSeconds", dimensions = {}, statistic = "Maximum"
        period      = 300, evaluation_periods = 1, comparison = "GreaterThanThreshold"
        threshold   = var.alarm_thresholds.scheduler_lag_minutes * 60, missing = "notBreaching"
      }
      stuck-workloads = {
        description = "Workloads RUNNING past their expected end plus the grace period."
        metric      = "StuckWorkloads", dimensions = {}, statistic = "Maximum"
        period      = 300, evaluation_periods = 1, comparison = "GreaterThanThreshold"
        threshold   = 0, missing = "notBreaching"
      }
      poison-records = {
        description = "A record failed repeatedly in the sweep and was moved to FAILED."
        metric      = "Sweep_poison_failed", dimensions = {}, statistic = "Sum"
        period      = 300, evaluation_periods = 1, comparison = "GreaterThanThreshold"
        threshold   = 0, missing = "notBreaching"
      }
    },
  )

  # Metrics with dimensions unknown at deploy time (fleets, migration Regions): Metrics Insights.
  insights_alarms = {
    migration-storm = {
      description = "More than ${var.alarm_thresholds.migrations_per_hour} migrations in an hour."
      query       = "SELECT SUM(Migrations) FROM SCHEMA(\"${local.metrics_namespace}\", Region)"
      period      = 3600, threshold = var.alarm_thresholds.migrations_per_hour
    }
    placement-score-budget = {
      description = "A fleet exhausted its placement-score budget."
      query       = "SELECT SUM(PlacementScoreBudgetExhausted) FROM SCHEMA(\"${local.metrics_namespace}\", Fleet)"
      period      = 300, threshold = 0
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "service" {
  for_each = var.create_alarms ? local.service_alarms : {}

  region              = local.home_region
  alarm_name          = "${var.name}-${each.key}"
  alarm_description   = each.value.description
  namespace           = local.metrics_namespace
  metric_name         = each.value.metric
  dimensions          = each.value.dimensions
  statistic           = each.value.statistic
  period              = each.value.period
  evaluation_periods  = each.value.evaluation_periods
  threshold           = each.value.threshold
  comparison_operator = each.value.comparison
  treat_missing_data  = each.value.missing
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions

  tags = var.tags
}

resource "aws_cloudwatch_metric_alarm" "insights" {
  for_each = var.create_alarms ? local.insights_alarms : {}

  region              = local.home_region
  alarm_name          = "${var.name}-${each.key}"
  alarm_description   = each.value.description
  evaluation_periods  = 1
  threshold           = each.value.threshold
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions

  metric_query {
    id          = "q1"
    expression  = each.value.query
    period      = each.value.period
    return_data = true
  }

  tags = var.tags
}

################################################################################
# SLOs: multi-window burn-rate alarms. An SLO's error ratio is 1 - good/total; burning at rate
# B means spending the error budget (1 - target) B times as fast as allowed. A composite alarm
# fires when both windows of a pair burn above the factor: fast (1 h and 5 min at 14.4x), slow
# (6 h and 30 min at 6x). Only the composites notify the topic. The burn rate cannot exceed
# 1 / (1 - target), so a pair whose factor is out of reach is not created: with the default 60 %
# carbon-efficiency target (at most 2.5x) neither pair exists (an attainment alarm stands in);
# from a target of 84 % the slow pair does, from 93.1 % the fast one.
# dispatch_availability: DispatchWindowMet / DispatchWindowTotal (scheduler, executor);
# carbon_efficiency: RealisedSavedGrams / OracleSavedGrams, both emitted by the sweep when it
# settles a workload's oracle from observed intensities (carbon_aware.runtime.oracle);
# migration_success: MigrationsSucceeded / MigrationsAttempted (issue #13).
################################################################################

locals {
  slos = {
    dispatch-availability = { good = "DispatchWindowMet", total = "DispatchWindowTotal", target = var.slo_targets.dispatch_availability }
    carbon-efficiency     = { good = "RealisedSavedGrams", total = "OracleSavedGrams", target = var.slo_targets.carbon_efficiency }
    migration-success     = { good = "MigrationsSucceeded", total = "MigrationsAttempted", target = var.slo_targets.migration_success }
  }
  burn_windows = {
    fast = { factor = 14.4, long = 3600, short = 300 }
    slow = { factor = 6, long = 21600, short = 1800 }
  }
  burn_alarms = merge([
    for slo, s in local.slos : merge([
      for speed, w in local.burn_windows : {
        for window in ["long", "short"] : "${slo}-burn-${speed}-${window}" => merge(s, {
          description        = "${slo}: error budget burning above ${w.factor}x over ${w[window] / 60} minutes (target ${s.target})."
          expression         = "IF(total > 0, (1 - good / total) / ${1 - s.target}, 0)"
          id                 = "burn"
          threshold          = w.factor
          comparison         = "GreaterThanThreshold"
          period             = w[window]
          evaluation_periods = 1
          notify             = false
        })
      } if w.factor < 1 / (1 - s.target)
    ]...)
  ]...)
  # An SLO whose target is too low for any burn pair (carbon efficiency at its default 60 %)
  # alarms on attainment instead: good / total under the target in each 6-hour period of a day.
  attainment_alarms = {
    for slo, s in local.slos : "${slo}-attainment" => merge(s, {
      description        = "SLO ${slo}: attainment under its target ${s.target} in each 6-hour period of a day (its target is too low for burn-rate alarms)."
      expression         = "IF(total > 0, good / total, 1)"
      id                 = "attainment"
      threshold          = s.target
      comparison         = "LessThanThreshold"
      period             = 21600
      evaluation_periods = 4
      notify             = true
    }) if alltrue([for w in values(local.burn_windows) : w.factor >= 1 / (1 - s.target)])
  }
}

# Burn-rate windows (only their composites notify) and attainment alarms.
resource "aws_cloudwatch_metric_alarm" "slo" {
  for_each = var.create_alarms ? merge(local.burn_alarms, local.attainment_alarms) : {}

  region              = local.home_region
  alarm_name          = "${var.name}-${each.key}"
  alarm_description   = each.value.description
  evaluation_periods  = each.value.evaluation_periods
  threshold           = each.value.threshold
  comparison_operator = each.value.comparison
  treat_missing_data  = "notBreaching"
  alarm_actions       = each.value.notify ? local.alarm_actions : []
  ok_actions          = each.value.notify ? local.alarm_actions : []

  metric_query {
    id          = each.value.id
    expression  = each.value.expression
    return_data = true
  }

  dynamic "metric_query" {
    for_each = { good = each.value.good, total = each.value.total }
    content {
      id = metric_query.key
      metric {
        namespace   = local.metrics_namespace
        metric_name = metric_query.value
        period      = each.value.period
        stat        = "Sum"
      }
    }
  }

  tags = var.tags
}

resource "aws_cloudwatch_composite_alarm" "slo" {
  for_each = var.create_alarms ? {
    for a in setproduct(keys(local.slos), keys(local.burn_windows)) : "${a[0]}-burn-${a[1]}" => a
    if local.burn_windows[a[1]].factor < 1 / (1 - local.slos[a[0]].target)
  } : {}

  region            = local.home_region
  alarm_name        = "${var.name}-${each.key}"
  alarm_description = "SLO ${each.value[0]}: ${each.value[1]} burn (both windows above ${local.burn_windows[each.value[1]].factor}x)."
  alarm_rule        = "ALARM(\"${aws_cloudwatch_metric_alarm.slo["${each.key}-long"].alarm_name}\") AND ALARM(\"${aws_cloudwatch_metric_alarm.slo["${each.key}-short"].alarm_name}\")"
  alarm_actions     = local.alarm_actions
  ok_actions        = local.alarm_actions

  tags = var.tags
}
