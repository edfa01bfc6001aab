from clinic_analysis.cli import main

main()
