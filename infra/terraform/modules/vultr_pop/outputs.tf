output "pop" {
  description = "This PoP as the inventory's pops[] entry (see infra/inventory/example.toml)."
  value       = local.pop
}
