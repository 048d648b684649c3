# PowerShell's style rules for the repository's own scripts (PSScriptAnalyzer is not served here,
# so the rules that matter are checked from the syntax tree): approved verbs, singular nouns,
# ShouldProcess for functions that change state, and no Write-Host.
BeforeDiscovery {
    $repo = (Resolve-Path (Join-Path $PSScriptRoot '../..')).Path
    $scripts = git -C $repo ls-files '*.ps1' | ForEach-Object { @{ File = $_; Path = Join-Path $repo $_ } }
}

BeforeAll {
    $approved = (Get-Verb).Verb
    # The verbs PSScriptAnalyzer's UseShouldProcessForStateChangingFunctions names.
    $stateChanging = 'New', 'Set', 'Remove', 'Start', 'Stop', 'Restart', 'Reset', 'Update'
    # Nouns that end in s and are singular.
    $singularInS = 'Ns', 'Status', 'Process', 'Address', 'Class', 'Alias', 'Progress', 'Access'
}

Describe '<File>' -ForEach $scripts {
    BeforeAll {
        $ast = [System.Management.Automation.Language.Parser]::ParseFile($Path, [ref] $null, [ref] $null)
        $functions = $ast.FindAll({ $args[0] -is [System.Management.Automation.Language.FunctionDefinitionAst] }, $true)
    }

    It 'names its functions Verb-Noun with an approved verb and a singular noun' {
        foreach ($function in $functions) {
            $function.Name | Should -Match '^[A-Z][a-z]+-[A-Z]\w*$' -Because 'a function is named Verb-Noun'
            $verb, $noun = $function.Name -split '-', 2
            $approved | Should -Contain $verb -Because "$($function.Name) needs an approved verb (Get-Verb)"
            if ($noun -match 's$' -and -not ($singularInS | Where-Object { $noun.EndsWith($_) })) {
                throw "$($function.Name): the noun '$noun' looks plural; PowerShell nouns are singular."
            }
        }
    }

    It 'asks ShouldProcess in functions that change state' {
        foreach ($function in $functions | Where-Object { ($_.Name -split '-')[0] -in $stateChanging }) {
            $text = $function.Extent.Text
            $text | Should -Match 'SupportsShouldProcess' -Because "$($function.Name) changes state"
            $text | Should -Match '\.ShouldProcess\(' -Because "$($function.Name) changes state"
        }
    }

    It 'writes data to the pipeline and messages to their streams, never with Write-Host' {
        $hosts = $ast.FindAll({ $args[0] -is [System.Management.Automation.Language.CommandAst] -and $args[0].GetCommandName() -eq 'Write-Host' }, $true)
        @($hosts | ForEach-Object { "line $($_.Extent.StartLineNumber): $($_.Extent.Text)" }) | Should -BeNullOrEmpty
    }
}
