# PowerShell's style rules for the repository's own scripts (PSScriptAnalyzer is not served here,
# so the rules that matter are checked from the syntax tree): approved verbs, singular nouns,
# ShouldProcess for functions that change state, and no Write-Host.
# One test per script and one per function checked: an empty list fails discovery
# (Pester's Run.FailOnNullOrEmptyForEach), so a rule can never pass by checking nothing.
BeforeDiscovery {
    $repo = (Resolve-Path (Join-Path $PSScriptRoot '../..')).Path
    $scripts = @(git -C $repo ls-files '*.ps1' | ForEach-Object { @{ File = $_; Path = Join-Path $repo $_ } })
    # The verbs PSScriptAnalyzer's UseShouldProcessForStateChangingFunctions names.
    $stateChanging = 'New', 'Set', 'Remove', 'Start', 'Stop', 'Restart', 'Reset', 'Update'
    $functions = @(foreach ($script in $scripts) {
            $ast = [System.Management.Automation.Language.Parser]::ParseFile($script.Path, [ref] $null, [ref] $null)
            foreach ($function in $ast.FindAll({ $args[0] -is [System.Management.Automation.Language.FunctionDefinitionAst] }, $true)) {
                @{ File = $script.File; Name = $function.Name; Text = $function.Extent.Text }
            }
        })
    $stateChangingFunctions = @($functions | Where-Object { ($_.Name -split '-')[0] -in $stateChanging })
}

BeforeAll {
    $approved = (Get-Verb).Verb
    # Nouns that end in s and are singular.
    $singularInS = 'Ns', 'Status', 'Process', 'Address', 'Class', 'Alias', 'Progress', 'Access'
}

Describe 'the functions of the scripts' {
    It '<Name> (<File>) is named Verb-Noun with an approved verb and a singular noun' -ForEach $functions {
        $Name | Should -Match '^[A-Z][a-z]+-[A-Z]\w*$' -Because 'a function is named Verb-Noun'
        $verb, $noun = $Name -split '-', 2
        $approved | Should -Contain $verb -Because "$Name needs an approved verb (Get-Verb)"
        if ($noun -match 's$' -and -not ($singularInS | Where-Object { $noun.EndsWith($_) })) {
            throw "${Name}: the noun '$noun' looks plural; PowerShell nouns are singular."
        }
    }

    It '<Name> (<File>) changes state, so it asks ShouldProcess' -ForEach $stateChangingFunctions {
        $Text | Should -Match 'SupportsShouldProcess' -Because "$Name changes state"
        $Text | Should -Match '\.ShouldProcess\(' -Because "$Name changes state"
    }
}

Describe '<File>' -ForEach $scripts {
    It 'writes data to the pipeline and messages to their streams, never with Write-Host' {
        $ast = [System.Management.Automation.Language.Parser]::ParseFile($Path, [ref] $null, [ref] $null)
        $hosts = $ast.FindAll({ $args[0] -is [System.Management.Automation.Language.CommandAst] -and $args[0].GetCommandName() -eq 'Write-Host' }, $true)
        @($hosts | ForEach-Object { "line $($_.Extent.StartLineNumber): $($_.Extent.Text)" }) | Should -BeNullOrEmpty
    }
}
