# Root module: the whole carbon-aware compute system. Filled in by the Terraform module work
# (control plane in a home region, per-region stacks for every region in var.regions).
